//go:build linux

package bench

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"github.com/onsi/gomega"
	"github.com/thediveo/fdooze"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/matchers"
)

// openFDs opens pipes until the process holds about n descriptors, raising
// RLIMIT_NOFILE when needed; the cleanup closes them and restores the limit.
func openFDs(b *testing.B, n int) {
	b.Helper()
	var saved syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
		b.Fatal(err)
	}
	if want := uint64(n + 256); saved.Cur < want {
		raised := saved
		raised.Cur = min(saved.Max, want)
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err != nil {
			b.Skipf("cannot raise RLIMIT_NOFILE to %d: %v", want, err)
		}
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Fatal(err)
	}
	var files []*os.File
	for len(entries)+len(files) < n {
		r, w, err := os.Pipe()
		if err != nil {
			b.Fatal(err)
		}
		files = append(files, r, w)
	}
	b.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &saved); err != nil {
			b.Error(err)
		}
	})
}

// openAndClose is the clean block of the descriptor benchmarks: it opens a
// file and closes it.
func openAndClose() {
	f, err := os.Open(os.DevNull)
	if err != nil {
		panic(err)
	}
	f.Close()
}

// mustPass is a Gomega whose failures end the benchmark: a clean block must
// get a clean verdict.
func mustPass(b *testing.B) gomega.Gomega {
	return gomega.NewGomega(func(message string, _ ...int) { b.Fatal(message) })
}

// BenchmarkFDCleanVerdict times one verdict on a block that opens and closes
// a file, with n descriptors open around it, for residue (the matcher and the
// plain fds.Find) and for fdooze used as its documentation says.
func BenchmarkFDCleanVerdict(b *testing.B) {
	for _, n := range []int{10, 1000, 10000} {
		b.Run(fmt.Sprintf("fds=%d/tool=residue-matcher", n), func(b *testing.B) {
			openFDs(b, n)
			g := mustPass(b)
			for b.Loop() {
				g.Expect(openAndClose).NotTo(matchers.LeakFileDescriptors())
			}
		})
		b.Run(fmt.Sprintf("fds=%d/tool=residue-FindFDs", n), func(b *testing.B) {
			openFDs(b, n)
			for b.Loop() {
				r, err := fds.Find(openAndClose)
				if err != nil || len(r.FDs) > 0 {
					b.Fatalf("%v\n%s", err, r)
				}
			}
		})
		b.Run(fmt.Sprintf("fds=%d/tool=fdooze", n), func(b *testing.B) {
			openFDs(b, n)
			g := mustPass(b)
			for b.Loop() {
				snapshot := fdooze.Filedescriptors()
				openAndClose()
				g.Expect(fdooze.Filedescriptors()).NotTo(fdooze.HaveLeakedFds(snapshot))
			}
		})
	}
}
