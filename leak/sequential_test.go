package leak_test

import (
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/golden"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/leak"
)

// leakThroughExitedChild leaves one goroutine whose creator has exited, so
// that only the run's label ties it to the block; it records the leaked
// goroutine's ID in id. It is never inlined, so that its closures have the
// same names with and without -race.
//
//go:noinline
func leakThroughExitedChild(stop chan struct{}, id *uint64) func() {
	return func() {
		started := make(chan struct{})
		go func() {
			go func() {
				*id = stack.CurrentID()
				close(started)
				blockedOn(stop)
			}()
		}()
		<-started
	}
}

// Runs one after the other leave goroutines with identical stacks whose
// creators have exited: each run reports exactly its own, by ID, and never
// speaks of goroutines left by another block at the same time, since none
// ran at the same time.
func TestSequentialTwinsAreNeitherSwappedNorCalledConcurrent(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	for i := range 20 {
		var id uint64
		r := find(t, leakThroughExitedChild(stop, &id), leak.Within(quick))
		if len(r.Goroutines) != 1 {
			t.Fatalf("run %d: want exactly its own goroutine:\n%s", i, r)
		}
		g := r.Goroutines[0]
		if g.ID != id || g.Ambiguous {
			t.Fatalf("run %d: want goroutine %d, unambiguous; got %d, ambiguous %v:\n%s", i, id, g.ID, g.Ambiguous, r)
		}
		if s := r.String(); strings.Contains(s, "same time") || strings.Contains(s, "lost its creator") {
			t.Fatalf("run %d: the message claims concurrency that did not happen:\n%s", i, s)
		}
		if i == 19 {
			golden.Check(t, "exited_child", r.String())
		}
	}
}
