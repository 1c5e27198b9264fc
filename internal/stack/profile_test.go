package stack

import (
	"context"
	"reflect"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"
)

// parkedFor blocks until done, so that a goroutine's stack holds still
// between the two reads a test compares.
//
//go:noinline
func parkedFor(ready *sync.WaitGroup, done chan struct{}) {
	ready.Done()
	<-done
}

const parkedForFunc = "github.com/residue-go/residue/internal/stack.parkedFor"

// parked starts n goroutines in parkedFor with the labels given (none when
// pairs is empty), from one call site per label set.
func parked(t *testing.T, done chan struct{}, n int, pairs ...string) {
	t.Helper()
	var ready sync.WaitGroup
	for range n {
		ready.Add(1)
		go func() {
			if len(pairs) > 0 {
				pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels(pairs...)))
			}
			parkedFor(&ready, done)
		}()
	}
	ready.Wait()
}

// ours keeps the groups whose goroutines wait in parkedFor.
func ours(gs []Group) []Group {
	return slices.DeleteFunc(gs, func(g Group) bool {
		return !slices.ContainsFunc(g.Frames, func(f Frame) bool { return f.Func == parkedForFunc })
	})
}

// The runtime's records, read directly, give the groups the profile's text
// form gives: the same counts, labels, frames and order.
func TestGroupsReadDirectlyAreTheTextProfiles(t *testing.T) {
	if !readsDirectly() {
		t.Skip("this release's goroutine records are read through the text form")
	}
	done := make(chan struct{})
	defer close(done)
	parked(t, done, 3, "residue-test", "a", "other", "x")
	parked(t, done, 2, "residue-test", "b")
	parked(t, done, 1)
	parked(t, done, 2, "unrelated", "c")

	// A goroutine that has signalled but not yet parked is elsewhere in
	// the runtime's code (its return addresses differ, and so do its
	// groups): the reads are compared once every goroutine is parked.
	var direct, text []Group
	for range 200 {
		direct, text = ours(directGroups("")), ours(textGroups(""))
		if len(text) == 4 && reflect.DeepEqual(direct, text) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(text) != 4 {
		t.Fatalf("the text profile has %d groups of the parked goroutines, want 4: %+v", len(text), text)
	}
	if !reflect.DeepEqual(direct, text) {
		t.Errorf("read directly:\n%+v\nfrom the text form:\n%+v", direct, text)
	}

	direct, text = ours(directGroups("residue-test")), ours(textGroups("residue-test"))
	if len(direct) != 2 || !reflect.DeepEqual(direct, text) {
		t.Fatalf("the groups labelled residue-test, read directly:\n%+v\nfrom the text form:\n%+v", direct, text)
	}
	if counts := []int{direct[0].Count, direct[1].Count}; !slices.Equal(counts, []int{3, 2}) {
		t.Errorf("counts %v, want [3 2]", counts)
	}
}

// The checks of the direct reads start no goroutine (which the goroutine
// probe of the check that first reads the profile would see as new, and
// its block's) and leave the caller's labels as they were.
func TestTheDirectReadsCheckStartsNoGoroutineAndKeepsTheLabels(t *testing.T) {
	if !profileKnown {
		t.Skip("this release's goroutine records are read through the text form")
	}
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("residue-caller", "x")))
	defer pprof.SetGoroutineLabels(context.Background())
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	if !withKnownLabels(knownLabelsRead) || !withKnownLabels(profileCheckpoint) {
		t.Fatal("the checks failed")
	}
	metrics.Read(created)
	if n := created[0].Value.Uint64() - before; n != 0 {
		t.Errorf("the check started %d goroutines", n)
	}
	if got, _ := CurrentLabels(); !slices.Equal(got, []string{"residue-caller", "x"}) {
		t.Errorf("the caller's labels after the check: %q", got)
	}
}
