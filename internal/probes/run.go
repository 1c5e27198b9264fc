package probes

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/stack"
)

// Probe observes one aspect of the process around one run of a block.
type Probe interface {
	// Before is called just before the block runs, on the goroutine that
	// called Exec.
	Before(r *Run) error
	// After is called once the block has returned (or panicked). It may wait
	// for the block's leftovers to settle.
	After(r *Run) error
	// Report is what the probe found in its last run; nil before one.
	Report() Report
}

// Bracket is a Probe told when the block starts (its first runner enters,
// after every Before has returned), when it has returned, before any
// probe's After is called, and when the run ends, after every After has
// returned. The fds probe holds the finalizer queue for the whole run, tells
// the block's looks at every goroutine from the probes' own by when they
// were made, and stops its sentinel's ticking from the block's return, whose
// timer would keep every probe's window from ending early (still.go).
type Bracket interface {
	Entered(r *Run)
	Returned(r *Run)
	Ended(r *Run)
}

// Pauser is a Probe told when the block pauses to let other blocks run and
// when it resumes (Run.Pausing, Run.Resumed).
type Pauser interface {
	Paused(r *Run)
	Resumed(r *Run)
}

// Run describes one execution of a block. A block is usually one func run by
// Exec; a run started with Start may also span several calls of Enter, such
// as the nodes of one Ginkgo spec, or goroutines that Adopt it.
type Run struct {
	id        uint64
	label     string
	marker    func(func())
	markerFn  string
	slot      int // index of the exclusive marker, -1 when shared or freed
	exclusive bool

	mu       sync.Mutex
	runners  []uint64
	outer    map[uint64]*Run // the runs these runners were running before
	adopter  string          // the function that called Adopt, see Owns
	sharedFn bool            // another run under way was adopted by the same function
	started  time.Time
	returned time.Time
	// cyclesAtReturn is how many GC cycles had ended when the block last
	// returned (see ProfileHoldsBlock).
	cyclesAtReturn uint64

	probes    []Probe   // those whose Before succeeded
	finishing time.Time // when Finish began: where settle windows start
	// stillLast is the last look for the proof that nothing can run
	// before a window ends (still.go); Finish's.
	stillLast stillLook
	// lookBy is when a probe's check asked Settle to look again at the
	// latest (LookBy); Finish's.
	lookBy time.Time
	// shared is the last look at every goroutine a probe shared with the
	// others (ShareLook); Start's, then Finish's.
	shared sharedLook
	record bool // a probe asked for RecordAllocations
	// stacks is the recording Start began, when a probe asked for it.
	stacks *memprof.Stacks
	parent context.Context // the labels the run started under
	ctx    context.Context // parent with the run's label: what nested runs inherit
	ended  atomic.Bool     // Finish has run
}

// ID is unique within the process.
func (r *Run) ID() uint64 { return r.id }

// Label is the pprof label key set, with the value "block", on the
// goroutines that run the block. Go copies labels to every goroutine started
// from a labelled one, so the label marks the block's goroutines and their
// descendants.
func (r *Run) Label() string { return r.label }

// Marker is the fully qualified name of the function that calls the block:
// a frame on the stack of everything the block does on its own goroutine,
// so that stacks recorded during the run (memory profile records, for one)
// can be told apart from those of other goroutines and other runs. Two runs
// under way at once have different markers unless more than
// MaxExclusiveRuns are, in which case Exclusive is false.
func (r *Run) Marker() string { return r.markerFn }

// Adopted reports whether a function adopted the run (see Adopt): a test
// checked as a whole, whose own stack runs through that function.
func (r *Run) Adopted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.adopter != ""
}

// Exclusive reports whether no other run under way shares the run's marker,
// nor, for a run adopted by a function (see Adopt), that function: two
// parallel subtests made from one closure both adopt their runs through it.
func (r *Run) Exclusive() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.exclusive && !r.sharedFn
}

// AdoptedAlone reports whether no other run under way was adopted by the
// function that adopted r: a stack through that function or its closures
// is then r's alone, whether or not r has a marker frame of its own (the
// exclusive ones run out when many tests wait in t.Parallel at once).
func (r *Run) AdoptedAlone() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.sharedFn
}

// Owns reports whether a recorded stack through fn, a fully qualified
// function name, is the block's own: fn is the run's marker frame, or the
// function that adopted the run (see Adopt) or one of its closures, such
// as a subtest's "pkg.TestX.func1" for a run adopted by "pkg.TestX".
func (r *Run) Owns(fn string) bool {
	if fn == r.markerFn {
		return true
	}
	r.mu.Lock()
	a := r.adopter
	r.mu.Unlock()
	if a == "" || !strings.HasPrefix(fn, a) {
		return false
	}
	rest := fn[len(a):]
	return rest == "" || strings.HasPrefix(rest, ".func") || strings.HasPrefix(rest, ".gowrap")
}

// Encloses reports whether inner was started inside r's block: on a
// goroutine that carried r's label, so that what inner's block does is also
// r's block's doing.
func (r *Run) Encloses(inner *Run) bool {
	if r == nil || inner == nil || r == inner || inner.parent == nil {
		return false
	}
	v, ok := pprof.Label(inner.parent, r.label)
	return ok && v == labelValue
}

// RecordAllocations asks, from a probe's Before, that every heap allocation
// be recorded with its stack (runtime.MemProfileRate = 1) while the block
// runs: from the end of Start, once every probe has looked, to the start of
// Finish, before any probe looks again. The probes' own work is then not
// recorded, which would cost a stack walk per allocation.
func (r *Run) RecordAllocations() { r.record = true }

// StacksStopped reports whether the recording RecordAllocations asked for
// stopped while the block ran, its budget spent (memprof.StackBudget): what
// the block allocated after that has no stack in the memory profile.
func (r *Run) StacksStopped() bool {
	return r.stacks != nil && r.stacks.Stopped()
}

// Resumed tells the run that its block, paused since it started while
// other blocks ran, runs again: a test that called t.Parallel, which waited
// for the sequential tests to end. The budget of the recording that
// RecordAllocations asked for counts from now: the allocations the others
// made meanwhile spent it, in a suite with many such tests, and what the
// block then opened or started had no stack to tell it was the block's.
// Probes that implement Pauser are told.
func (r *Run) Resumed() {
	if r.stacks != nil {
		r.stacks.Renew()
	}
	for _, p := range r.probes {
		if pp, ok := p.(Pauser); ok {
			pp.Resumed(r)
		}
	}
}

// Pausing tells the run that its block is about to wait while other blocks
// run (a test calling t.Parallel), until Resumed: probes that implement
// Pauser are told. The descriptor probe's sentinel need not tick for a
// paused block, which waits for other tests, not for a finalizer, and
// whose ticks would keep the others' windows from ending early. The
// recording of allocation stacks pauses too (memprof.Stacks.Pause): every
// allocation the others, and their checks, made while a paused block
// recorded cost a stack walk, for stacks no probe of the paused block
// would read, its budget starting again as it resumes.
func (r *Run) Pausing() {
	if r.stacks != nil {
		r.stacks.Pause()
	}
	for _, p := range r.probes {
		if pp, ok := p.(Pauser); ok {
			pp.Paused(r)
		}
	}
}

// Started is when the block first started running.
func (r *Run) Started() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.started
}

// Returned is when the block last returned.
func (r *Run) Returned() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.returned
}

// ProfileHoldsBlock reports whether the memory profile as the runtime last
// published it holds every allocation the block made: two GC cycles have
// ended since it last returned (an allocation is published when the second
// cycle after the one it was made in ends), as other probes' forced cycles
// often make. A probe that needs the block's allocations then needs no
// cycles of its own.
func (r *Run) ProfileHoldsBlock() bool {
	r.mu.Lock()
	returned, at := r.returned, r.cyclesAtReturn
	r.mu.Unlock()
	return !returned.IsZero() && memprof.GCCycles() >= at+2
}

// labelValue is the value of Run.Label on the block's goroutines.
const labelValue = "block"

var nextID atomic.Uint64

// runsUnderWay counts the runs started and not yet finished.
var runsUnderWay atomic.Int64

// Runs returns how many runs are under way (started, their Finish not yet
// returned) and how many were ever started in the process.
func Runs() (underWay int, started uint64) {
	return int(runsUnderWay.Load()), nextID.Load()
}

// active maps runner goroutine IDs to the runs under way, so that probes can
// tell the goroutines of two concurrent runs apart.
var active sync.Map // uint64 -> *Run

// RunnerOf returns the run whose block goroutine id is running, or nil when
// it runs none.
func RunnerOf(id uint64) *Run {
	if r, ok := active.Load(id); ok {
		return r.(*Run)
	}
	return nil
}

// Runners returns the IDs of the goroutines that ran the block, the first
// one first.
func (r *Run) Runners() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.runners)
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
	r, err := Start(probes...)
	if err != nil {
		return r, err
	}
	err = r.execute(block)
	if e := r.Finish(); e != nil && err == nil {
		err = e
	}
	return r, err
}

// Start begins a run: it reserves the run's marker frame and calls every
// probe's Before, in order. If one fails, the probes already started are
// finished and its error is returned. A run started inside another run's
// block — on its runner or on any goroutine the outer block started — keeps
// the outer run's labels, so that the outer run still sees what the inner
// block leaves behind.
func Start(probes ...Probe) (*Run, error) {
	runsUnderWay.Add(1)
	r := &Run{id: nextID.Add(1), parent: inheritedLabels()}
	r.label = "residue-" + strconv.FormatUint(r.id, 10)
	r.ctx = pprof.WithLabels(r.parent, pprof.Labels(r.label, labelValue))
	r.reserveMarker()
	for _, p := range probes {
		if err := p.Before(r); err != nil {
			_ = r.Finish()
			return r, err
		}
		r.probes = append(r.probes, p)
	}
	r.shared = sharedLook{}
	if r.record {
		r.stacks = memprof.RecordStacks()
	}
	return r, nil
}

// Enter runs f on the calling goroutine as part of the run's block: under the
// run's label and marker frame. A panic or Goexit in f passes through.
func (r *Run) Enter(f func()) {
	defer r.adopt()()
	r.marker(f)
}

// Adopt makes the calling goroutine part of the run's block from now on, as
// Enter does for one call: it carries the run's label, so the goroutines it
// starts are the block's. No marker frame is on its stack; instead the run
// owns (see Owns) the function that called Adopt, the first caller outside
// residue's own packages, such as the test function that called
// residue.Check, and its closures. restore puts back the labels the
// goroutine had before, as far as the run knows them (those of an enclosing
// run, or none), and must be called on the same goroutine.
func (r *Run) Adopt() (restore func()) {
	if fn := outsideCaller(); fn != "" {
		r.mu.Lock()
		first := r.adopter == ""
		if first {
			r.adopter = fn
		}
		r.mu.Unlock()
		if first {
			adopters.add(r, fn)
		}
	}
	return r.adopt()
}

// adopters lists the runs under way by the function that adopted them.
var adopters = adopterRuns{runs: map[string][]*Run{}}

type adopterRuns struct {
	sync.Mutex
	runs map[string][]*Run
}

// add records that fn adopted r; runs adopted by the same function at the
// same time are not exclusive.
func (a *adopterRuns) add(r *Run, fn string) {
	a.Lock()
	defer a.Unlock()
	others := a.runs[fn]
	a.runs[fn] = append(others, r)
	if len(others) == 0 {
		return
	}
	for _, o := range append(others, r) {
		o.mu.Lock()
		o.sharedFn = true
		o.mu.Unlock()
	}
}

func (a *adopterRuns) remove(r *Run) {
	r.mu.Lock()
	fn := r.adopter
	r.mu.Unlock()
	if fn == "" {
		return
	}
	a.Lock()
	defer a.Unlock()
	a.runs[fn] = slices.DeleteFunc(a.runs[fn], func(o *Run) bool { return o == r })
	if len(a.runs[fn]) == 0 {
		delete(a.runs, fn)
	}
}

// outsideCaller returns the first function on the calling goroutine's stack
// that is not residue's own: outside its module, or in one of its test
// files.
func outsideCaller() string {
	var pcs [32]uintptr
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs[:])])
	for {
		f, more := frames.Next()
		if !strings.HasPrefix(f.Function, stack.Module) || strings.HasSuffix(f.File, "_test.go") {
			return f.Function
		}
		if !more {
			return ""
		}
	}
}

func (r *Run) adopt() (restore func()) {
	id := stack.CurrentID()
	r.mu.Lock()
	first := len(r.runners) == 0
	if first {
		r.started = time.Now()
	}
	r.runners = append(r.runners, id)
	probes := r.probes
	r.mu.Unlock()
	if first {
		for _, p := range probes {
			if b, ok := p.(Bracket); ok {
				b.Entered(r)
			}
		}
	}
	if prev, loaded := active.Swap(id, r); loaded && prev != r {
		r.mu.Lock()
		if r.outer == nil {
			r.outer = map[uint64]*Run{}
		}
		r.outer[id] = prev.(*Run)
		r.mu.Unlock()
	}
	pprof.SetGoroutineLabels(r.ctx)
	return func() {
		pprof.SetGoroutineLabels(r.parent)
		cycles := memprof.GCCycles()
		r.mu.Lock()
		r.returned, r.cyclesAtReturn = time.Now(), cycles
		r.mu.Unlock()
	}
}

// Finish ends the run: it calls After on every started probe, in reverse
// order, and frees the run's marker. It returns the first error.
func (r *Run) Finish() error {
	r.finishing = time.Now()
	if r.stacks != nil {
		r.stacks.Release()
	}
	for _, p := range r.probes {
		if b, ok := p.(Bracket); ok {
			b.Returned(r)
		}
	}
	var err error
	for i := len(r.probes) - 1; i >= 0; i-- {
		if e := r.probes[i].After(r); e != nil && err == nil {
			err = e
		}
	}
	for _, p := range r.probes {
		if b, ok := p.(Bracket); ok {
			b.Ended(r)
		}
	}
	r.probes, r.shared = nil, sharedLook{}
	adopters.remove(r)
	for _, id := range r.Runners() {
		r.mu.Lock()
		prev := r.outer[id]
		r.mu.Unlock()
		if active.CompareAndDelete(id, r) && prev != nil {
			active.Store(id, prev) // an enclosing run still under way
		}
	}
	r.releaseMarker()
	if r.ended.CompareAndSwap(false, true) {
		runsUnderWay.Add(-1)
	}
	return err
}

// execute runs block through Enter on a new goroutine and turns a panic or
// Goexit into an error.
func (r *Run) execute(block func()) error {
	var (
		done     = make(chan struct{})
		panicked bool
		value    any
		stack    []byte
		finished bool
	)
	go func() {
		defer close(done)
		defer func() {
			if finished {
				return
			}
			value = recover()
			stack = make([]byte, 64<<10)
			stack = stack[:runtime.Stack(stack, false)]
			// recover returns nil for runtime.Goexit, and also for panic(nil)
			// under GODEBUG=panicnil=1: the unwinding stack tells them apart.
			panicked = value != nil || bytes.Contains(stack, []byte("\npanic("))
			stack = blockFrames(stack)
		}()
		r.Enter(block)
		finished = true
	}()
	<-done
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
		case bytes.HasPrefix(l, []byte("github.com/residue-go/residue/internal/probes.callBlock")):
			to = i
		}
	}
	if from >= to {
		return stack
	}
	return bytes.Join(lines[from:to], []byte("\n"))
}
