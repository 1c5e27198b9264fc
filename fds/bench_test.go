//go:build linux

package fds

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// openFDs opens pipes until the process has about n descriptors, and
// returns a function that closes them.
func openFDs(b *testing.B, n int) func() {
	b.Helper()
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < uint64(n+256) {
		rl.Cur = min(rl.Max, uint64(n+256))
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			b.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", n+256, err)
		}
	}
	have, err := snapshot()
	if err != nil {
		b.Fatal(err)
	}
	var files []*os.File
	for len(have)+len(files) < n {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, r, w)
	}
	return func() {
		for _, f := range files {
			f.Close()
		}
	}
}

// BenchmarkFDSnapshotDiff measures what every run pays before and after its
// block: listing the descriptor table and diffing it against the one taken
// before. "readlink" is the technique of reading /proc/self/fd with
// os.ReadDir and readlink(2) on every entry, for comparison.
func BenchmarkFDSnapshotDiff(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("residue/fds=%d", n), func(b *testing.B) {
			defer openFDs(b, n)()
			p := &probe{}
			var err error
			if p.before, err = snapshot(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				after, err := snapshot()
				if err != nil {
					b.Fatal(err)
				}
				if fresh := p.newEntries(after); len(fresh) != 0 {
					b.Fatalf("%d new descriptors", len(fresh))
				}
			}
			b.ReportMetric(float64(len(p.before)), "fds")
		})
		b.Run(fmt.Sprintf("readlink/fds=%d", n), func(b *testing.B) {
			defer openFDs(b, n)()
			before := readlinkSnapshot(b)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				after := readlinkSnapshot(b)
				for fd, target := range after {
					if before[fd] != target {
						b.Fatalf("fd %d is new", fd)
					}
				}
			}
		})
	}
}

func readlinkSnapshot(b *testing.B) map[int]string {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Fatal(err)
	}
	out := make(map[int]string, len(entries))
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
			out[fd] = target
		}
	}
	return out
}

// BenchmarkFindFDsCleanBlock measures a whole probed run of a block that
// leaves nothing, with many descriptors open around it, and with a large
// live heap, which a run that forced GCs would pay for.
func BenchmarkFindFDsCleanBlock(b *testing.B) {
	block := func() {
		f, _ := os.Open(os.DevNull)
		f.Close()
	}
	run := func(b *testing.B) {
		Find(block) // the first run puts the finalizer hold in place, once
		for b.Loop() {
			r, err := Find(block, Within(time.Second))
			if err != nil || len(r.FDs) > 0 {
				b.Fatalf("%v\n%s", err, r)
			}
		}
	}
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("fds=%d", n), func(b *testing.B) {
			defer openFDs(b, n)()
			run(b)
		})
	}
	b.Run("heap=1GB/fds=10", func(b *testing.B) {
		heap := make([]*[8]*int, 1<<30/64)
		for i := range heap {
			heap[i] = new([8]*int)
		}
		runtime.GC()
		run(b)
		runtime.KeepAlive(heap)
	})
}
