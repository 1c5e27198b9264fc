package probes

import (
	"reflect"
	"runtime"
	"strings"
)

// MaxExclusiveRuns is how many runs can be under way at once, each with a
// marker frame of its own (see Run.Marker).
const MaxExclusiveRuns = len(exclusiveMarkers)

// freeMarkers holds the indexes of the exclusive markers not in use.
var freeMarkers = func() chan int {
	c := make(chan int, MaxExclusiveRuns)
	for i := range MaxExclusiveRuns {
		c <- i
	}
	return c
}()

// callBlockShared is the marker used when every exclusive one is taken.
//
//go:noinline
func callBlockShared(block func()) { block(); keepFrame() }

// keepFrame is called after the block so the marker's call to it cannot be
// turned into a tail call that would drop the marker from the stack.
//
//go:noinline
func keepFrame() {}

// reserveMarker gives the run an exclusive marker when one is free, the
// shared one otherwise.
func (r *Run) reserveMarker() {
	select {
	case i := <-freeMarkers:
		r.slot, r.marker = i, exclusiveMarkers[i]
	default:
		r.slot, r.marker = -1, callBlockShared
	}
	r.markerFn, r.exclusive = funcName(r.marker), r.slot >= 0
}

// releaseMarker returns an exclusive marker to the pool, once.
func (r *Run) releaseMarker() {
	if r.slot >= 0 {
		freeMarkers <- r.slot
		r.slot = -1
	}
}

// markerPrefix starts the name of every marker frame, exclusive or shared.
const markerPrefix = "github.com/residue-go/residue/internal/probes.callBlock"

// IsMarker reports whether fn, a fully qualified function name, is the
// marker frame of some run (see Run.Marker).
func IsMarker(fn string) bool { return strings.HasPrefix(fn, markerPrefix) }

func funcName(f func(func())) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}
