//go:build linux

package bench

import (
	"net"
	"runtime"
	"testing"

	"github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
	"go.uber.org/goleak"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/matchers"
)

// cell is one node of the live heap: eight pointers, 64 bytes, so the
// collector has to scan every word of it and follow what it points to.
type cell struct{ next [8]*cell }

// cellsPerGB is how many cells make 1 GiB.
const cellsPerGB = 1 << 30 / 64

// growHeap builds an 8-ary tree of n cells (cell i's children are cells
// 8i+1 … 8i+8), so that marking it can be spread over every processor.
func growHeap(i, n int) *cell {
	c := new(cell)
	for j := range c.next {
		if k := 8*i + j + 1; k < n {
			c.next[j] = growHeap(k, n)
		}
	}
	return c
}

// sink keeps the allocation block's slice on the heap.
var sink []byte

// probe is one clean verdict: it runs a block that leaves nothing and fails
// the benchmark when the verdict is not clean.
type probe struct {
	name  string
	check func(b *testing.B, g gomega.Gomega)
}

func probesFor(b *testing.B) []probe {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	dialAndClose := func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			panic(err)
		}
		s, err := ln.Accept()
		if err != nil {
			panic(err)
		}
		s.Close()
		c.Close()
	}
	joinGoroutine := func() {
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
	}
	readGlobal := func() { _ = net.DefaultResolver.PreferGo }
	allocate := func() { sink = make([]byte, 100) }
	return []probe{
		{"goroutines", func(b *testing.B, g gomega.Gomega) {
			g.Expect(joinGoroutine).NotTo(matchers.LeakGoroutines())
		}},
		{"goleak", func(b *testing.B, g gomega.Gomega) {
			opt := goleak.IgnoreCurrent()
			joinGoroutine()
			if err := goleak.Find(opt); err != nil {
				b.Fatal(err)
			}
		}},
		{"gleak", func(b *testing.B, g gomega.Gomega) {
			snapshot := gleak.Goroutines()
			joinGoroutine()
			g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(snapshot))
		}},
		{"fds", func(b *testing.B, g gomega.Gomega) {
			g.Expect(openAndClose).NotTo(matchers.LeakFileDescriptors())
		}},
		{"sockets", func(b *testing.B, g gomega.Gomega) {
			g.Expect(dialAndClose).NotTo(matchers.LeakSockets())
		}},
		{"globals", func(b *testing.B, g gomega.Gomega) {
			g.Expect(readGlobal).NotTo(matchers.MutateGlobals())
		}},
		{"allocations", func(b *testing.B, g gomega.Gomega) {
			m, err := alloc.Measure(allocate)
			if err != nil || m.Objects != 1 {
				b.Fatalf("%v\n%v", err, m)
			}
		}},
		{"side-effects", func(b *testing.B, g gomega.Gomega) {
			g.Expect(openAndClose).NotTo(matchers.HaveSideEffects())
		}},
		// Not a verdict: the cost of one forced collection, for reference.
		{"runtime.GC", func(*testing.B, gomega.Gomega) { runtime.GC() }},
	}
}

// BenchmarkProbeCleanVerdict times the clean verdict of each probe, of
// HaveSideEffects (every probe but allocations at once), and of goleak and
// gleak, beside one runtime.GC() for reference, first with an almost empty heap and then with 1 GiB of
// live, pointer-dense heap. Each probe runs once before the timed loop, so
// one-time costs (the globals probe's debug-info index) are left out.
func BenchmarkProbeCleanVerdict(b *testing.B) {
	for _, heap := range []struct {
		name  string
		cells int
	}{{"empty", 0}, {"1GB", cellsPerGB}} {
		var root *cell
		b.Run("heap="+heap.name, func(b *testing.B) {
			if heap.cells > 0 {
				root = growHeap(0, heap.cells)
			}
			runtime.GC()
			for _, p := range probesFor(b) {
				b.Run("probe="+p.name, func(b *testing.B) {
					g := mustPass(b)
					p.check(b, g)
					for b.Loop() {
						p.check(b, g)
					}
				})
			}
			runtime.KeepAlive(root)
		})
		root = nil
		runtime.GC()
	}
}
