package probes

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Probe observes one aspect of the process around one run of a block.
type Probe interface {
	// Before is called just before the block runs, on the goroutine that
	// called Exec.
	Before(r *Run) error
	// After is called once the block has returned (or panicked). It may wait
	// for the block's leftovers to settle.
	After(r *Run) error
}

// Run describes one execution of a block.
type Run struct {
	// ID is unique within the process.
	ID uint64
	// Label is the pprof label key set, with the value "block", on the
	// goroutine that runs the block. Go copies labels to every goroutine
	// started from a labelled one, so the label marks the block's goroutines
	// and their descendants.
	Label string
	// Runner is the ID of the goroutine that ran the block. Every goroutine
	// the block started has a larger ID.
	Runner uint64
	// Marker is the fully qualified name of the function that called the
	// block: a frame on the stack of everything the block does on its own
	// goroutine, so that stacks recorded during the run (memory profile
	// records, for one) can be told apart from those of other goroutines and
	// of other runs going on at the same time. Two runs under way at once have
	// different markers unless more than MaxExclusiveRuns are under way, in
	// which case Exclusive is false.
	Marker    string
	Exclusive bool
	// Started and Returned bracket the block's execution.
	Started, Returned time.Time

	ctx context.Context // the block's labels, inherited by runs nested in it
}

// LabelValue is the value of Run.Label on the block's goroutines.
const LabelValue = "block"

var nextID atomic.Uint64

// active maps Runner goroutine IDs to the runs under way, so that probes can
// tell the goroutines of two concurrent runs apart.
var active sync.Map // uint64 -> *Run

// ActiveRunners returns the runner goroutine IDs of every run under way.
func ActiveRunners() map[uint64]*Run {
	out := map[uint64]*Run{}
	active.Range(func(k, v any) bool {
		out[k.(uint64)] = v.(*Run)
		return true
	})
	return out
}

// PanicError is returned by Exec when the block panicked.
type PanicError struct {
	Value any
	Stack []byte // the stack of the panicking goroutine, from the panic site
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("the block panicked: %v\n%s", e.Value, bytes.TrimRight(e.Stack, "\n"))
}

// GoexitError is returned by Exec when the block called runtime.Goexit, as
// t.FailNow, t.Fatal and t.Skip do.
type GoexitError struct {
	Stack []byte
}

func (e *GoexitError) Error() string {
	return "the block called runtime.Goexit (t.FailNow, t.Fatal, t.Skip or similar) before returning; " +
		"the probes cannot judge a block that did not finish\n" + string(bytes.TrimRight(e.Stack, "\n"))
}

// Exec runs block once on a new goroutine, calling every probe's Before first
// and every probe's After, in reverse order, once the block has finished. The
// block's panic or Goexit becomes a *PanicError or *GoexitError; the Afters
// still run so that probes restore what they changed. The first error wins.
func Exec(block func(), probes ...Probe) (*Run, error) {
	r := &Run{ID: nextID.Add(1)}
	r.Label = "residue-" + strconv.FormatUint(r.ID, 10)

	var err error
	n := 0
	for _, p := range probes {
		if err = p.Before(r); err != nil {
			break
		}
		n++
	}
	if err == nil {
		err = r.execute(block)
	}
	for i := n - 1; i >= 0; i-- {
		if e := probes[i].After(r); e != nil && err == nil {
			err = e
		}
	}
	return r, err
}

func (r *Run) execute(block func()) error {
	var (
		done     = make(chan struct{})
		panicked bool
		value    any
		stack    []byte
		finished bool
	)
	// A run nested in another run's block keeps the outer label, so that the
	// outer run still sees what the inner block leaves behind.
	parent := context.Background()
	if outer, ok := active.Load(CurrentGoroutineID()); ok {
		parent = outer.(*Run).ctx
	}
	go func() {
		defer close(done)
		r.Runner = CurrentGoroutineID()
		active.Store(r.Runner, r)
		defer active.Delete(r.Runner)
		defer func() {
			if finished {
				return
			}
			if v := recover(); v != nil {
				panicked, value = true, v
			}
			stack = make([]byte, 64<<10)
			stack = blockFrames(stack[:runtime.Stack(stack, false)])
		}()
		pprof.Do(parent, pprof.Labels(r.Label, LabelValue), func(ctx context.Context) {
			r.ctx = ctx
			r.Started = time.Now()
			r.call(block)
			finished = true
		})
	}()
	<-done
	r.Returned = time.Now()
	switch {
	case finished:
		return nil
	case panicked:
		return &PanicError{Value: value, Stack: stack}
	default:
		return &GoexitError{Stack: stack}
	}
}

// blockFrames cuts a stack taken while a panic or Goexit unwinds the block
// down to the frames that matter to the block's author: from the panic site
// (or the Goexit call) to the block itself, without residue's own frames.
func blockFrames(stack []byte) []byte {
	lines := bytes.Split(stack, []byte("\n"))
	from, to := 1, len(lines)
	for i, l := range lines {
		switch {
		case bytes.HasPrefix(l, []byte("panic(")) || bytes.HasPrefix(l, []byte("runtime.Goexit(")):
			from = i + 2 // the call and its file:line
		case bytes.HasPrefix(l, []byte("github.com/residue-go/residue/probes.callBlock")):
			to = i
		}
	}
	if from >= to {
		return stack
	}
	return bytes.Join(lines[from:to], []byte("\n"))
}

// CurrentGoroutineID returns the ID of the calling goroutine.
func CurrentGoroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
