package probes

import (
	"reflect"
	"runtime"
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

// call runs block under a marker frame, exclusive when one is free.
func (r *Run) call(block func()) {
	select {
	case i := <-freeMarkers:
		defer func() { freeMarkers <- i }()
		r.Marker, r.Exclusive = funcName(exclusiveMarkers[i]), true
		exclusiveMarkers[i](block)
	default:
		r.Marker, r.Exclusive = funcName(callBlockShared), false
		callBlockShared(block)
	}
}

func funcName(f func(func())) string {
	return runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
}
