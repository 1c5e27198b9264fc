package alloc

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"unsafe"

	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// Figures are the heap allocations of one run: objects and bytes.
type Figures struct {
	Objects int64
	Bytes   int64
}

// Site is a place that allocated during the block, with what it allocated.
type Site struct {
	// Frame is the innermost frame outside the runtime: the function that
	// asked for memory, such as strings.(*Builder).grow.
	probes.Frame
	// From is the innermost frame outside the standard library on the way
	// from the block to Frame, when Frame itself is in the standard library:
	// the line of the block's own code that led to the allocation.
	From probes.Frame
	Figures
}

// Measurement is what a block allocated on its own goroutine.
type Measurement struct {
	// Objects and Bytes are the largest figures of the measured runs (see
	// Min for the smallest).
	Figures
	// Runs holds the figures of each measured run, in order.
	Runs []Figures
	// WarmUps is how many unmeasured runs came before each measured run.
	WarmUps int
	// Sites are the allocation sites of the run that allocated the most
	// objects, most objects first.
	Sites []Site
	// Unattributed is what was allocated during a run at stacks too deep
	// for the runtime's profiling depth to tell whether the block made them.
	// It is not counted, and the measurement fails with errDeepStacks.
	Unattributed Figures
	// RuntimeCached is what the runtime allocated for the block's own
	// bookkeeping because a cache of its was empty: wait records of channel
	// operations, selects and contended locks, goroutine descriptors for go
	// statements, heap-allocated defer records, a goroutine's sleep timer.
	// Whether these allocate depends on what ran before on the processor, not
	// on the block, so they are not counted in Figures. Of the measured runs,
	// the largest.
	RuntimeCached Figures
	// Limits holds the outcome of each AtMostIn option, in order.
	Limits []Limit
	// Budget is the budget set by AtMost and BytesAtMost, -1 where none was.
	Budget Figures
}

// Limit is the outcome of an AtMostIn option: what the block allocated in
// Function or in what it calls, in the measured run that allocated the most
// there.
type Limit struct {
	Function string
	// AtMost is the limit: the block went over it when Objects > AtMost.
	AtMost int64
	Figures
	Sites []Site
}

// exceeded returns the limits set with AtMostIn that the block went over.
func (m *Measurement) exceeded() []Limit {
	var out []Limit
	for _, l := range m.Limits {
		if l.Objects > l.AtMost {
			out = append(out, l)
		}
	}
	return out
}

// least returns the smallest objects and bytes over the measured runs.
func (m *Measurement) least() Figures {
	f := m.Runs[0]
	for _, r := range m.Runs[1:] {
		f.Objects, f.Bytes = min(f.Objects, r.Objects), min(f.Bytes, r.Bytes)
	}
	return f
}

// errDeepStacks is wrapped by the error of a measurement during which
// allocations were made at stacks deeper than the runtime records.
var errDeepStacks = errors.New("allocation stacks deeper than the runtime's profiling depth")

// Measure runs block on a goroutine of its own — Runs times measured (once
// by default), each after WarmUp unmeasured runs — and returns the heap
// allocations each measured run made on that goroutine: every object, with
// its size and the site that allocated it, exact whatever other goroutines
// allocate at the same time.
//
// Allocations made by goroutines the block starts are not counted: the
// runtime records an allocation with the stack of the goroutine that made it,
// which for a started goroutine does not lead back to the block. The go
// statement itself is counted: the closure it captures (the goroutine's
// descriptor is runtime bookkeeping, see Measurement.RuntimeCached).
//
// The error is set when the block panicked or called runtime.Goexit, when
// the binary is built with -race (see SkipUnderRace), and when the figures
// cannot be exact (allocations at stacks deeper than the runtime records).
func Measure(block func(), opts ...Option) (*Measurement, error) {
	if block == nil {
		return nil, errors.New("alloc.Measure: the block is a nil func")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if env.Race {
		return nil, env.ErrRace
	}
	m := &Measurement{WarmUps: c.warmUps, Budget: c.budget}
	// The warm-up runs come after the probe's Before, whose garbage
	// collections empty every sync.Pool: the measured run then finds the
	// pools as the warm-up left them, as in a program's steady state.
	var warmedUp int
	primed := func() {
		warmedUp = 0
		warmUp(block, c.warmUps, &warmedUp)
		primeTiny()
		block()
	}
	for i := range c.runs {
		p := &probe{cfg: c}
		_, err := probes.Exec(primed, p)
		if err != nil {
			if warmedUp < c.warmUps {
				err = fmt.Errorf("warm-up run %d of %d: %w", warmedUp+1, c.warmUps, err)
			}
			if c.runs > 1 {
				err = fmt.Errorf("measured run %d of %d: %w", i+1, c.runs, err)
			}
			return nil, err
		}
		r := p.result
		m.Runs = append(m.Runs, r.Figures)
		if i == 0 || r.Objects > m.Objects || (r.Objects == m.Objects && r.Bytes > m.Bytes) {
			m.Sites = r.Sites
		}
		m.Objects, m.Bytes = max(m.Objects, r.Objects), max(m.Bytes, r.Bytes)
		if i == 0 {
			m.Limits = r.Limits
		} else {
			for j, l := range r.Limits {
				if l.Objects > m.Limits[j].Objects || (l.Objects == m.Limits[j].Objects && l.Bytes > m.Limits[j].Bytes) {
					m.Limits[j] = l
				}
			}
		}
		if r.RuntimeCached.Objects > m.RuntimeCached.Objects {
			m.RuntimeCached = r.RuntimeCached
		}
		m.Unattributed.Objects += r.Unattributed.Objects
		m.Unattributed.Bytes += r.Unattributed.Bytes
	}
	return m, nil
}

// probe measures the allocations of one run of a block, as a probes.Probe
// (made through kind, so that it runs beside the other probes of a combined
// check).
//
// Before makes the runtime record every allocation (runtime.MemProfileRate
// = 1) and reads the memory profile; After reads it again, counts what was
// allocated under the run's marker frame, and restores the rate, also when
// the block panicked. The run keeps its marker frame until every After has
// run, so measurements under way at once do not count each other.
type probe struct {
	cfg     config
	release func()
	before  memprof.ByStack
	result  *Measurement
}

// kind registers the probe with the combined checks, where it runs only
// when one of its options (a budget) is given.
var kind = func() probes.Kind {
	k := probes.NewKind(name, newProbe)
	k.OnDemand = true
	return probes.Register(k)
}()

// newProbe returns a probe ready for one run. Of the options, AtMost,
// BytesAtMost and AtMostIn apply to a single run; an invalid option is an
// error naming it.
func newProbe(opts ...Option) (*probe, error) {
	c, err := newConfig(opts)
	return &probe{cfg: c}, err
}

// Report returns the figures of the last run (a *Measurement), nil before
// one.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.result)) }

// Before implements probes.Probe.
func (p *probe) Before(r *probes.Run) error {
	p.result = nil
	if env.Race {
		return env.ErrRace
	}
	p.release = memprof.RecordAllocations()
	recs, release := memprof.MemProfile()
	p.before = memprof.SumByStack(recs)
	release()
	return nil
}

// After implements probes.Probe.
func (p *probe) After(r *probes.Run) error {
	defer p.release()
	recs, release := memprof.MemProfile()
	deltas := memprof.SumByStack(recs).Since(p.before)
	release()
	p.before = nil

	m := &Measurement{}
	sites := map[[2]probes.Frame]*Site{}
	limitSites := make([]map[[2]probes.Frame]*Site, len(p.cfg.limits))
	for i, l := range p.cfg.limits {
		m.Limits = append(m.Limits, Limit{Function: l.function, AtMost: l.objects})
		limitSites[i] = map[[2]probes.Frame]*Site{}
	}
	count := func(frames []probes.Frame, f Figures) {
		site, from, whose := attribute(frames, r.Marker())
		switch whose {
		case notBlocks:
			return
		case cached:
			m.RuntimeCached.Objects += f.Objects
			m.RuntimeCached.Bytes += f.Bytes
			return
		}
		m.Objects += f.Objects
		m.Bytes += f.Bytes
		addSite(sites, site, from, f)
		for i, l := range p.cfg.limits {
			if under(frames, r.Marker(), stack.MatchFunc(l.function)) {
				m.Limits[i].Objects += f.Objects
				m.Limits[i].Bytes += f.Bytes
				addSite(limitSites[i], site, from, f)
			}
		}
	}
	var deep [][32]uintptr // stacks cut at 32 frames without the marker in them
	if r.Marker() != "" {
		for stk, f := range deltas {
			switch {
			case hasFunc(stk[:], r.Marker()):
				count(memprof.Symbolize(stk[:]), Figures(f))
			case stk[len(stk)-1] != 0:
				deep = append(deep, stk)
			}
		}
	}
	if len(deep) > 0 {
		if err := p.attributeDeep(r.Marker(), deep, deltas, count, m); err != nil {
			return err
		}
	}
	m.Sites = sortedSites(sites)
	for i := range m.Limits {
		m.Limits[i].Sites = sortedSites(limitSites[i])
	}
	m.Runs = []Figures{m.Figures}
	m.Budget = p.cfg.budget
	p.result = m
	if r.Marker() != "" && !r.Exclusive() {
		return fmt.Errorf("more than %d blocks were run at once, so this run shared its marker frame "+
			"with another and its allocation figures may include the other's; run fewer blocks in parallel",
			probes.MaxExclusiveRuns)
	}
	if m.Unattributed.Objects > 0 {
		return fmt.Errorf("%w: %s were allocated during the run at stacks too deep to tell whether the block "+
			"made them; raise the runtime's depth with GODEBUG=profstackdepth=1024",
			errDeepStacks, m.Unattributed)
	}
	return nil
}

// attributeDeep settles the stacks that runtime.MemProfile cut at 32 frames
// before reaching any marker: the heap profile has them in full (up to the
// runtime's profiling depth). A cut stack all of whose full forms run under
// marker is the block's; one none of whose full forms do is not; otherwise
// its figures are Unattributed.
func (p *probe) attributeDeep(marker string, deep [][32]uintptr, deltas memprof.ByStack,
	count func([]probes.Frame, Figures), m *Measurement) error {
	// After has just flushed the profile (memprof.MemProfile), so the full
	// stacks are those of the same records.
	prof := memprof.FullStackProfile()
	fulls := make([][]probes.Frame, len(prof))
	for _, stk := range deep {
		prefix := withoutRuntime(memprof.Symbolize(stk[:]))
		var mine, other, unknown int
		var frames []probes.Frame
		for i := range prof {
			if fulls[i] == nil {
				fulls[i] = withoutRuntime(memprof.Symbolize(prof[i].Stack))
			}
			full := fulls[i]
			if !hasPrefix(full, prefix) {
				continue
			}
			switch {
			case stack.HasFunc(full, marker):
				mine++
				if frames == nil {
					frames = full
				}
			case len(prof[i].Stack) >= maxProfileDepth:
				unknown++
			default:
				other++
			}
		}
		f := deltas[stk]
		switch {
		case mine > 0 && other == 0 && unknown == 0:
			count(frames, Figures(f))
		case mine > 0 || unknown > 0:
			m.Unattributed.Objects += f.Objects
			m.Unattributed.Bytes += f.Bytes
		}
	}
	return nil
}

// maxProfileDepth is the runtime's default profiling stack depth: a stack
// this long may have been cut before reaching the marker.
const maxProfileDepth = 128

func withoutRuntime(frames []probes.Frame) []probes.Frame {
	out := frames[:0:0]
	for _, f := range frames {
		if !stack.IsRuntime(f.Func) {
			out = append(out, f)
		}
	}
	return out
}

func hasPrefix(frames, prefix []probes.Frame) bool {
	if len(frames) < len(prefix) {
		return false
	}
	for i, f := range prefix {
		if frames[i] != f {
			return false
		}
	}
	return true
}

// hasFunc reports whether one of the return addresses in stk is in fn. The
// marker functions are never inlined, so the outermost function at each
// address is enough.
func hasFunc(stk []uintptr, fn string) bool {
	for _, pc := range stk {
		if pc == 0 {
			return false
		}
		if f := runtime.FuncForPC(pc - 1); f != nil && f.Name() == fn {
			return true
		}
	}
	return false
}

// warmUp runs block n times, counting the runs that returned in done. What
// it allocates is not counted: its frame is between the block and the
// marker.
//
//go:noinline
func warmUp(block func(), n int, done *int) {
	for range n {
		block()
		*done++
	}
}

var warmUpName = runtime.FuncForPC(reflect.ValueOf(warmUp).Pointer()).Name()

// ownPrefix starts the names of this package's functions, such as the
// closure through which Measure calls the block: never a site.
const ownPrefix = "github.com/residue-go/residue/alloc."

// tinySink keeps primeTiny's allocations on the heap.
var tinySink []byte

// primeTiny fills the tiny-allocator block of the processor it runs on. The
// runtime packs pointer-free objects under 16 bytes into shared 16-byte
// blocks and records in the memory profile only the allocation of a new
// block, so whether a small string shows up depends on how full the current
// block is. primeTiny allocates single bytes until one lands in the last byte
// of a block: then the block is full, and the first tiny allocation the block
// makes starts a new, recorded one, whatever ran before. Its own allocations
// are not counted.
//
//go:noinline
func primeTiny() {
	for range 64 {
		tinySink = make([]byte, 1)
		if uintptr(unsafe.Pointer(&tinySink[0]))%16 == 15 {
			return
		}
	}
}

var primeTinyName = runtime.FuncForPC(reflect.ValueOf(primeTiny).Pointer()).Name()

// attribution says whose an allocation is.
type attribution int

const (
	notBlocks attribution = iota // another goroutine's, or residue's own
	blocks                       // the block's
	cached                       // the block's, drawn from a runtime cache
)

// attribute says whether frames run under marker and, if so, the site: the
// innermost frame outside the runtime, and the innermost frame outside the
// standard library when that is another one.
func attribute(frames []probes.Frame, marker string) (site, from probes.Frame, whose attribution) {
	var haveSite, haveFrom, fromCache bool
	for _, f := range frames {
		switch {
		case f.Func == marker:
			if fromCache {
				return site, from, cached
			}
			return site, from, blocks
		case f.Func == primeTinyName || f.Func == warmUpName:
			return probes.Frame{}, probes.Frame{}, notBlocks
		case strings.HasPrefix(f.Func, ownPrefix):
			continue
		case stack.IsRuntime(f.Func) || stack.InRuntimeSource(f):
			fromCache = fromCache || !haveSite && runtimeCached(f)
		case !haveSite:
			site, haveSite = f, true
			haveFrom = !stack.IsStandard(f)
		case !haveFrom && !stack.IsStandard(f):
			from, haveFrom = f, true
		}
	}
	return probes.Frame{}, probes.Frame{}, notBlocks
}

// runtimeCached reports whether f is a runtime function that allocates its
// bookkeeping only when a per-processor or per-goroutine cache is empty: a
// channel or lock wait record, a goroutine descriptor, a heap-allocated defer
// record, a goroutine's sleep timer. Whether such an allocation happens
// depends on what ran on the processor before, not on the block.
func runtimeCached(f probes.Frame) bool {
	switch f.Func {
	case "runtime.acquireSudog", "runtime.malg", "runtime.newdefer":
		return true
	case "time.Sleep":
		return stack.InRuntimeSource(f)
	}
	return false
}

func addSite(sites map[[2]probes.Frame]*Site, site, from probes.Frame, f Figures) {
	k := [2]probes.Frame{site, from}
	st := sites[k]
	if st == nil {
		st = &Site{Frame: site, From: from}
		sites[k] = st
	}
	st.Objects += f.Objects
	st.Bytes += f.Bytes
}

func sortedSites(sites map[[2]probes.Frame]*Site) []Site {
	out := make([]Site, 0, len(sites))
	for _, s := range sites {
		out = append(out, *s)
	}
	sortSites(out)
	return out
}

// under reports whether a function that match accepts is on the stack
// between the allocation and marker.
func under(frames []probes.Frame, marker string, match func(string) bool) bool {
	for _, f := range frames {
		if f.Func == marker {
			return false
		}
		if match(f.Func) {
			return true
		}
	}
	return false
}

func sortSites(s []Site) {
	slices.SortFunc(s, func(a, b Site) int {
		return cmp.Or(
			cmp.Compare(b.Objects, a.Objects),
			cmp.Compare(b.Bytes, a.Bytes),
			cmp.Compare(a.File, b.File),
			cmp.Compare(a.Line, b.Line),
			cmp.Compare(a.From.File, b.From.File),
			cmp.Compare(a.From.Line, b.From.Line),
		)
	})
}
