package memprof

import (
	"slices"
	"testing"

	"github.com/residue-go/residue/internal/stack"
)

var siteSink []*[6]int

//go:noinline
func allocateAtSiteA(n int) {
	for range n {
		siteSink = append(siteSink, new([6]int))
	}
}

//go:noinline
func allocateAtSiteB(n int) {
	for range n {
		siteSink = append(siteSink, new([6]int))
	}
}

// bruteForce is what the index must give: the records of s, in order,
// whose allocation site is in fn.
func bruteForce(s *Sites, fn string) []int {
	var out []int
	for i := range s.recs {
		if f, ok := s.site(s.recs[i].Stack); ok && f.Func == fn {
			out = append(out, i)
		}
	}
	return out
}

// The index of allocation sites, kept across reads of the profile by the
// buckets' ages, finds in each read the records a scan of that read finds:
// for a read made before buckets were added and searched after a later
// read indexed them, too.
func TestTheSitesIndexFindsWhatAScanFinds(t *testing.T) {
	release := RecordAllocations()
	allocateAtSiteA(8)
	release()
	older := FlushSites()
	defer older.Release()

	release = RecordAllocations()
	allocateAtSiteB(8)
	allocateAtSiteA(8)
	release()
	newer := FlushSites()
	defer newer.Release()

	const a, b = "github.com/residue-go/residue/internal/memprof.allocateAtSiteA", "github.com/residue-go/residue/internal/memprof.allocateAtSiteB"
	check := func(name string, s *Sites, fn string, want int) {
		t.Helper()
		got := sitesIndex.records(s, fn, "", 0)
		if scan := bruteForce(s, fn); !slices.Equal(got, scan) || len(got) < want {
			t.Errorf("%s read, %s: the index gives records %v, a scan %v (at least %d expected)", name, fn, got, scan, want)
		}
	}
	check("the newer", newer, b, 1) // indexes every bucket the newer read has
	check("the newer", newer, a, 1)
	check("the older", older, a, 1) // searched after the newer read was indexed
	check("the older", older, b, 0)

	// At a line: the records of that one site.
	if st := newer.At(b, "", 0); len(st) == 0 {
		t.Fatalf("no stack at %s", b)
	} else {
		f := st[0].Frames[slices.IndexFunc(st[0].Frames, func(f stack.Frame) bool { return f.Func == b })]
		if got := sitesIndex.records(newer, f.Func, f.File, f.Line); len(got) == 0 {
			t.Errorf("no record at %s:%d", f.File, f.Line)
		}
	}
}

// Reading a counter allocates nothing: GC cycles are read as every block
// returns, while its allocations are recorded, each with a stack walk.
func TestCountersAllocateNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { GCCycles(); heapAllocs() }); n != 0 {
		t.Errorf("reading the counters allocates %v objects", n)
	}
}
