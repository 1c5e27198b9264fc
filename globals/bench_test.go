package globals_test

import (
	"os"
	"runtime"
	"strconv"
	"testing"

	"github.com/residue-go/residue/globals"
)

// BenchmarkIndexSelf opens the running test binary's DWARF and lists every
// package-level variable of every package, as a fresh process would.
func BenchmarkIndexSelf(b *testing.B) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	benchIndex(b, exe)
}

// BenchmarkIndexLarge does the same for the binary named by
// RESIDUE_BIG_BINARY (see docs/performance.md for how to build one).
func BenchmarkIndexLarge(b *testing.B) {
	path := os.Getenv("RESIDUE_BIG_BINARY")
	if path == "" {
		b.Skip("set RESIDUE_BIG_BINARY to a large binary built with -ldflags=-w=0")
	}
	benchIndex(b, path)
}

func benchIndex(b *testing.B, path string) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	var n int
	for b.Loop() {
		ix, err := globals.OpenIndex(path)
		if err != nil {
			b.Fatal(err)
		}
		vs, err := ix.Variables(nil)
		if err != nil {
			b.Fatal(err)
		}
		n = len(vs)
	}
	b.ReportMetric(float64(n), "vars")
	b.ReportMetric(float64(st.Size())/1e6, "MB")
}

// BenchmarkSnapshotDiffDefaultScope takes two snapshots of the default
// scope and compares them, the work MutateGlobals adds around a block once
// the index is built.
func BenchmarkSnapshotDiffDefaultScope(b *testing.B) {
	if _, err := globals.Take(); err != nil {
		b.Fatal(err) // builds the index outside the timing
	}
	var vars int
	for b.Loop() {
		before, err := globals.Take()
		if err != nil {
			b.Fatal(err)
		}
		after, _ := globals.Take()
		r := globals.Compare(before, after)
		if len(r.Changes) > 0 {
			b.Fatalf("changes in an idle process:\n%s", r)
		}
		vars = before.Variables()
	}
	b.ReportMetric(float64(vars), "vars")
}

// BenchmarkSnapshotDiffDefaultScopeProfiled is the same with every
// allocation recorded by the memory profiler (runtime.MemProfileRate = 1),
// as inside a check of allocations or of a whole TestMain
// (residue.VerifyTestMain), where each allocation costs a stack walk.
func BenchmarkSnapshotDiffDefaultScopeProfiled(b *testing.B) {
	defer func(rate int) { runtime.MemProfileRate = rate }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	BenchmarkSnapshotDiffDefaultScope(b)
}

var bigMap map[string]int

// BenchmarkUserMap takes two snapshots of a package-level map of n entries
// and compares them.
func BenchmarkUserMap(b *testing.B) {
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			bigMap = make(map[string]int, n)
			for i := 0; i < n; i++ {
				bigMap[strconv.Itoa(i)] = i
			}
			defer func() { bigMap = nil }()
			for b.Loop() {
				before, _ := globals.Take(globals.Watching(&bigMap))
				after, _ := globals.Take(globals.Watching(&bigMap))
				if len(globals.Compare(before, after).Changes) > 0 {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}

// BenchmarkSnapshotDiffProfiled is BenchmarkSnapshotDiffDefaultScope with
// every allocation recorded by the memory profiler, as when a check of
// global state is nested in an allocation check (HaveSideEffects): its
// cost follows the number of allocations a snapshot makes.
func BenchmarkSnapshotDiffProfiled(b *testing.B) {
	if _, err := globals.Take(); err != nil {
		b.Fatal(err)
	}
	defer func(old int) { runtime.MemProfileRate = old }(runtime.MemProfileRate)
	runtime.MemProfileRate = 1
	for b.Loop() {
		before, err := globals.Take()
		if err != nil {
			b.Fatal(err)
		}
		after, _ := globals.Take()
		if r := globals.Compare(before, after); len(r.Changes) > 0 {
			b.Fatalf("changes in an idle process:\n%s", r)
		}
	}
}

var bigPointerMap map[int]*int

// BenchmarkUserPointerMap is BenchmarkUserMap for a map of pointers, whose
// entries are captured in key order.
func BenchmarkUserPointerMap(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			bigPointerMap = make(map[int]*int, n)
			for i := 0; i < n; i++ {
				bigPointerMap[i] = &i
			}
			defer func() { bigPointerMap = nil }()
			for b.Loop() {
				before, _ := globals.Take(globals.Watching(&bigPointerMap))
				after, _ := globals.Take(globals.Watching(&bigPointerMap))
				if len(globals.Compare(before, after).Changes) > 0 {
					b.Fatal("changed")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/entry")
		})
	}
}
