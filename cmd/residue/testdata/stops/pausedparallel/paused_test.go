// Package pausedparallel has tests that wait in t.Parallel while a
// sequential test allocates more than the allocation-stack budget: what
// they open once they run must still be told to be theirs.
package pausedparallel

import (
	"os"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	kept []*os.File
	sink []*[4]int
)

// keep opens a file and keeps it open: each test leaves one descriptor.
func keep(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	kept = append(kept, f)
	mu.Unlock()
}

func TestKeepsA(t *testing.T) {
	t.Parallel()
	keep(t)
}

func TestKeepsB(t *testing.T) {
	t.Parallel()
	keep(t)
}

func TestKeepsC(t *testing.T) {
	t.Parallel()
	keep(t)
}

// TestAllocates runs while the others wait: more heap allocations than
// the budget, which their budgets counted too before they resumed.
func TestAllocates(t *testing.T) {
	for i := range 600_000 {
		sink = append(sink[:i%64], new([4]int))
	}
	sink = nil
}
