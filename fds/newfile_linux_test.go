package fds_test

import (
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/residue-go/residue/fds"
)

// A descriptor wrapped by os.NewFile can be of any kind, so its creation
// site counts toward every kind of descriptor; it still counts for one
// descriptor only. Two parallel blocks: one keeps an eventfd it wrapped
// with os.NewFile, the other a file it created. Each reports one
// descriptor, its own; the first used to be given the other's file as
// well, as "one of" its descriptors.
func TestAWrappedDescriptorCountsOnce(t *testing.T) {
	dir := t.TempDir()
	var (
		arrived, done sync.WaitGroup
		reports       [2]*fds.Report
		errs          [2]error
		left          [2]closer
		nums          [2]int
	)
	arrived.Add(2)
	done.Add(2)
	for i := range 2 {
		go func() {
			defer done.Done()
			reports[i], errs[i] = fds.Find(func() {
				if i == 0 {
					efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC)
					if err != nil {
						t.Error(err)
					} else {
						f := os.NewFile(uintptr(efd), "eventfd")
						nums[i] = int(f.Fd())
						left[i].keep(f)
					}
				} else {
					f, err := os.Create(filepath.Join(dir, "kept"))
					if err != nil {
						t.Error(err)
					} else {
						nums[i] = int(f.Fd())
						left[i].keep(f)
					}
				}
				arrived.Done()
				arrived.Wait() // both have opened theirs before either returns
			}, fds.Within(100*time.Millisecond))
		}()
	}
	done.Wait()
	for i := range 2 {
		defer left[i].close()
		if errs[i] != nil {
			t.Fatalf("block %d: %v", i, errs[i])
		}
		r := reports[i]
		if len(r.FDs) != 1 || r.FDs[0].Num != nums[i] && !slices.Contains(r.FDs[0].OneOf, nums[i]) {
			t.Errorf("block %d: want its own fd %d alone reported, got:\n%s", i, nums[i], r)
		}
	}
}
