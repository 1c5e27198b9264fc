package leak_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
	"go.uber.org/goleak"

	"github.com/residue-go/residue/leak"
)

// The benchmarks time one verdict on a block, for residue and for its peers
// used the way their documentation says, with a number of unrelated
// goroutines alive in the background:
//
//	go test ./leak -run '^$' -bench . -benchtime 5x -count 5
//
// "clean" blocks start and join a goroutine; "leak" blocks leave one
// goroutine blocked on a channel the benchmark closes afterwards, so no tool
// can prove it stuck; "stuck" blocks leave one blocked on a channel nothing
// else references, which the Go 1.27 runtime proves stuck forever.

func background(b *testing.B, n int) {
	stop := make(chan struct{})
	for range n {
		go blockedOn(stop)
	}
	b.Cleanup(func() { close(stop) })
}

type scenario struct {
	name  string
	block func(stop chan struct{})
	leaks bool
}

var scenarios = []scenario{
	{"clean", func(chan struct{}) {
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
	}, false},
	{"leak", func(stop chan struct{}) {
		go blockedOn(stop)
	}, true},
	{"stuck", func(chan struct{}) {
		go blockedOn(make(chan struct{}))
	}, true},
}

// verdict runs block once and reports whether the tool saw a leak.
type verdict func(block func()) bool

var tools = []struct {
	name string
	run  verdict
}{
	{"residue", func(block func()) bool {
		r, err := leak.Find(block)
		if err != nil {
			panic(err)
		}
		return len(r.Goroutines) > 0
	}},
	{"goleak", func(block func()) bool {
		opt := goleak.IgnoreCurrent()
		block()
		return goleak.Find(opt) != nil
	}},
	{"gleak", func(block func()) bool {
		failed := false
		g := gomega.NewGomega(func(string, ...int) { failed = true })
		snapshot := gleak.Goroutines()
		block()
		g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(snapshot))
		return failed
	}},
}

func BenchmarkVerdict(b *testing.B) {
	for _, sc := range scenarios {
		for _, bg := range []int{10, 1000, 10000} {
			for _, tool := range tools {
				b.Run(fmt.Sprintf("%s/bg=%d/%s", sc.name, bg, tool.name), func(b *testing.B) {
					background(b, bg)
					time.Sleep(10 * time.Millisecond) // let the background park
					b.ResetTimer()
					for b.Loop() {
						stop := make(chan struct{})
						if got := tool.run(func() { sc.block(stop) }); got != sc.leaks {
							b.Fatalf("%s: leak verdict %v, want %v", tool.name, got, sc.leaks)
						}
						b.StopTimer()
						close(stop)
						time.Sleep(time.Millisecond) // let the leaked goroutine go
						b.StartTimer()
					}
				})
			}
		}
	}
}

// node is one object of a live heap full of pointers, which a GC must mark.
type node struct {
	next *node
	pad  [112]byte
}

var liveHeap []*node

// BenchmarkCleanVerdictHeap times the verdict on a clean block with an empty
// heap and with 1 GB of live objects: a clean verdict runs no GC and reads
// no memory profile, so the two figures should match.
//
//	go test ./leak -run '^$' -bench CleanVerdictHeap -benchtime 200x
func BenchmarkCleanVerdictHeap(b *testing.B) {
	for _, size := range []int{0, 1 << 30} {
		b.Run(fmt.Sprintf("heap=%dMB", size>>20), func(b *testing.B) {
			liveHeap = make([]*node, size/128)
			var prev *node
			for i := range liveHeap {
				liveHeap[i] = &node{next: prev}
				prev = liveHeap[i]
			}
			defer func() { liveHeap = nil }()
			runtime.GC() // no cycle of the heap's making still under way
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for b.Loop() {
				r, err := leak.Find(func() { scenarios[0].block(nil) })
				if err != nil || len(r.Goroutines) > 0 {
					b.Fatalf("clean block: %v\n%s", err, r)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.NumGC-before.NumGC)/float64(b.N), "GCs/op")
		})
	}
}
