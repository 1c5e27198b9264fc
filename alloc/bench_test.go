package alloc_test

import (
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/internal/env"
)

// plainBlock allocates five objects, one of them tiny.
func plainBlock() {
	sinkBytes = make([]byte, 100)
	sinkInts = make([]int, 0, 3)
	sinkStr = strconv.Itoa(123456789)
	sinkAny = map[string]int{"a": 1}
}

// echo is a long-lived goroutine that answers requests without allocating,
// like a server the code under test talks to.
var echo = func() chan int {
	c := make(chan int)
	go func() {
		for v := range c {
			c <- v
		}
	}()
	return c
}()

// handoffBlock allocates the same five objects around a round trip to echo:
// while it waits, other goroutines run on its processor.
func handoffBlock() {
	plainBlock()
	echo <- 1
	<-echo
}

var benchBlocks = []struct {
	name  string
	block func()
}{{"plain", plainBlock}, {"handoff", handoffBlock}}

var conditions = []struct {
	name  string
	noise int
}{{"quiet", 0}, {"noise4", 4}}

// cpuTime returns the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMeasure is the cost of one assertion's measurement and its
// accuracy: exact-% is the share of measurements equal to the quiet figure,
// cpu-ns/op the process's CPU time per measurement (on a quiet process, the
// cost without waiting for a shared machine's other work).
func BenchmarkMeasure(b *testing.B) {
	for _, bl := range benchBlocks {
		for _, c := range conditions {
			b.Run(bl.name+"/"+c.name, func(b *testing.B) {
				if env.Race {
					b.Skip("allocation figures are not exact under -race")
				}
				want, err := alloc.Measure(bl.block)
				if err != nil {
					b.Fatal(err)
				}
				if c.noise > 0 {
					defer noise(c.noise)()
				}
				same := 0
				cpu := cpuTime()
				b.ResetTimer()
				for b.Loop() {
					m, err := alloc.Measure(bl.block)
					if err != nil {
						b.Fatal(err)
					}
					if m.Figures == want.Figures {
						same++
					}
				}
				b.StopTimer()
				if c.noise == 0 {
					b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
				}
				b.ReportMetric(100*float64(same)/float64(b.N), "exact-%")
				b.ReportMetric(float64(want.Objects), "objects")
			})
		}
	}
}

// BenchmarkAllocsPerRun is testing.AllocsPerRun on the same blocks: exact-%
// is the share of calls that return the quiet figure of AllocsPerRun (which
// counts the tiny object that Measure also counts), min and max the range it
// returned.
func BenchmarkAllocsPerRun(b *testing.B) {
	for _, runs := range []int{1, 100} {
		for _, bl := range benchBlocks {
			for _, c := range conditions {
				b.Run("runs"+strconv.Itoa(runs)+"/"+bl.name+"/"+c.name, func(b *testing.B) {
					want := testing.AllocsPerRun(runs, bl.block)
					if c.noise > 0 {
						defer noise(c.noise)()
					}
					same := 0
					lo, hi := 1e9, 0.0
					b.ResetTimer()
					for b.Loop() {
						got := testing.AllocsPerRun(runs, bl.block)
						if got == want {
							same++
						}
						lo, hi = min(lo, got), max(hi, got)
					}
					b.ReportMetric(100*float64(same)/float64(b.N), "exact-%")
					b.ReportMetric(lo, "min-allocs")
					b.ReportMetric(hi, "max-allocs")
				})
			}
		}
	}
}

// BenchmarkFourGCs is the floor of a measurement's cost: the four
// runtime.GC calls that publish the memory profile before and after the block.
func BenchmarkFourGCs(b *testing.B) {
	cpu := cpuTime()
	for b.Loop() {
		runtime.GC()
		runtime.GC()
		runtime.GC()
		runtime.GC()
	}
	b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/op")
}
