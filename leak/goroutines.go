package leak

import (
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// Goroutine is a goroutine the block started that was still alive after it.
type Goroutine struct {
	ID    uint64 // 0 when only the goroutine profile saw it
	State string // the runtime's wait reason, e.g. "chan receive"
	// Waited is how long it was seen in State: at least the time between the
	// first and last look, or the runtime's own minute count when larger.
	Waited time.Duration
	// StuckForever is set when the goroutine provably never wakes up: the
	// runtime's goroutineleak profile found it blocked on something nothing
	// can reach, or it waits on a nil channel or an empty select.
	StuckForever bool
	// Ambiguous is set when another new goroutine with the identical stack,
	// not the block's, also lost its creator: the count is exact, but ID may
	// be the other one's.
	Ambiguous bool
	// HTTP says what the goroutine is to an http.Transport connection:
	// "idle" for the reader or writer of a keep-alive connection idle in
	// the transport's pool (every response on it was read and closed),
	// "busy" for that of a connection that is not idle (most often, a
	// response whose body was never closed holds it), "" for any other
	// goroutine.
	HTTP   string
	Stack  []probes.Frame // innermost first
	Origin []Creation     // the go statements that led to it, its own first
	Raw    string         // the runtime's text for it
}

// Creation is one go statement in a goroutine's origin.
type Creation struct {
	probes.Frame        // the function and line of the go statement
	Goroutine    uint64 // the goroutine that executed it; 0 when only the memory profile knows it
	InBlock      bool   // that goroutine was the one running the block itself
	Exited       bool   // that goroutine has exited
	// From are the ways, known from the memory profile, from the block's own
	// code to this go statement: each the calls from the go statement's
	// function out to the line in the block, innermost first. A goroutine
	// may have been started through any one of them; set only when certain.
	From [][]probes.Frame
}

// Report lists what a block left running.
type Report struct {
	Goroutines []Goroutine
	Within     time.Duration // the settle window
	Waited     time.Duration // how long the probe waited after the block returned
	// Stilled is set when the window ended early: nothing in the process
	// could run before its end, so what is listed would still be there.
	Stilled bool

	// adopted: the block is a test checked as a whole (probes.Run.Adopt),
	// which the creation lines call "the test".
	adopted bool
}

// probe finds the goroutines a block started, directly or through
// other goroutines, that are still alive once the block has returned and the
// settle window has passed. It implements probes.Probe.
type probe struct {
	cfg    config
	before map[uint64]bool // goroutines alive before the block
	cycles uint64          // GC cycles ended before the block started
	report *Report
}

// kind registers the probe with the combined checks.
var kind = probes.Register(probes.NewKind(name, newProbe))

// newProbe returns a probe configured by opts. An invalid option is an
// error naming it.
func newProbe(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg}, err
}

// Report returns what the last run left (a *Report), or nil before a run.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.report)) }

// Before implements probes.Probe.
func (p *probe) Before(r *probes.Run) error {
	p.report = nil
	// A look the globals probe took for its first snapshot, or one of
	// the probe's own.
	if dump, ok := r.SharedLook(); ok {
		p.before = stack.IDsText(dump)
	} else {
		dump, release := stack.Dump()
		p.before = stack.IDs(dump)
		release()
	}
	p.cycles = memprof.GCCycles()
	// The block's allocations, with their stacks, up to
	// memprof.StackBudget of them, are for traceCreations: a go statement
	// that starts a closure or passes arguments allocates, and the memory
	// profile keeps the whole stack that led to it. Nothing is read unless
	// something is left.
	r.RecordAllocations()
	return nil
}

// After implements probes.Probe: it settles and records the report.
func (p *probe) After(r *probes.Run) error {
	p.report = p.settle(r)
	return nil
}

// Find runs block once and reports the goroutines it left running.
// The error is set when the block panicked or called runtime.Goexit.
func Find(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(kind, block, opts))
}

// leakProfile is the runtime's goroutineleak profile (Go 1.27 by default),
// nil where the runtime has none.
var leakProfile = pprof.Lookup("goroutineleak")

type sighting struct {
	at    time.Time
	state string
}

// settle looks until nothing the report would show is left, something is
// proven stuck forever, or the window ends. Ignored and allowed goroutines
// are never looked at again: they cannot hold the verdict back.
func (p *probe) settle(r *probes.Run) *Report {
	var (
		left []Goroutine
		seen = map[uint64]sighting{}
	)
	stilled := r.Settle(p.cfg.within, func(attempt int, last bool) bool {
		prove := leakProfile != nil && attempt > 0 && attempt&(attempt-1) == 0
		left = p.find(r, prove, seen)
		if len(left) == 0 {
			return true
		}
		for _, g := range left {
			if g.StuckForever {
				return true
			}
		}
		return false
	})
	if len(left) > 0 {
		p.restingStacks(r, left, seen)
		p.traceCreations(left, r)
	}
	return &Report{Goroutines: left, Within: p.cfg.within, Waited: time.Since(r.Returned()), Stilled: stilled && len(left) > 0, adopted: r.Adopted()}
}

// find looks once for the run's goroutines that are alive and not ignored,
// in phases: a snapshot of every goroutine, the ownership of each by its
// creators, the claims the run's label counts settle, and the
// classification of what is claimed.
func (p *probe) find(r *probes.Run, prove bool, seen map[uint64]sighting) []Goroutine {
	s := look(r, p.before, prove)
	if s == nil {
		return nil
	}
	roles := s.ownership(r, p.before)
	if s.needsLabels(roles, p.cfg.ignored) {
		s.readLabels(r)
	}
	claims := s.claims(roles)
	if len(claims) == 0 {
		return nil
	}
	conns := s.httpConns()
	runners := r.Runners()
	now := time.Now()
	var out []Goroutine
	for _, c := range claims {
		g := c.g
		g.ParseFrames()
		conn := conns.of(g)
		if p.cfg.ignored(g) || (conn == idleHTTPConn && p.cfg.idleHTTP) {
			continue
		}
		lg := Goroutine{
			ID:           g.ID,
			State:        g.State,
			StuckForever: g.Leaked || neverWakes(g.State),
			Ambiguous:    c.twin,
			HTTP:         conn,
			Stack:        g.Frames,
			Origin:       s.origin(g, runners),
			Raw:          g.Raw,
		}
		if g.ID != 0 {
			sg, ok := seen[g.ID]
			if !ok || sg.state != g.State {
				sg = sighting{now, g.State}
				seen[g.ID] = sg
			}
			lg.Waited = max(now.Sub(sg.at), g.Wait)
		}
		out = append(out, lg)
	}
	return out
}

// restingStacks looks again, a few times a millisecond apart, when a
// goroutine to report was running or ready to run at the last look, and
// takes the first look in which it waits: one that a timer or a message
// woke is somewhere else at every such look, and would be reported by the
// function it started in at one and by where it waits at the next (a key
// that changes from run to run: tally's reporter loop, woken every 100 ms,
// was found ready in one audit of five). What is reported stays what the
// window found: a goroutine gone meanwhile, or new, changes nothing here,
// and one that keeps running is reported as it was seen.
func (p *probe) restingStacks(r *probes.Run, left []Goroutine, seen map[uint64]sighting) {
	busy := func() bool {
		return slices.ContainsFunc(left, func(g Goroutine) bool { return g.ID != 0 && awake(g.State) })
	}
	for range restLooks {
		if !busy() {
			return
		}
		time.Sleep(time.Millisecond)
		again := p.find(r, false, seen)
		for i := range left {
			if left[i].ID == 0 || !awake(left[i].State) {
				continue
			}
			if j := slices.IndexFunc(again, func(g Goroutine) bool { return g.ID == left[i].ID }); j >= 0 && !awake(again[j].State) {
				left[i] = again[j]
			}
		}
	}
}

// restLooks bounds the looks restingStacks takes.
const restLooks = 3

// awake reports whether a goroutine in state runs or is ready to.
func awake(state string) bool { return state == "running" || state == "runnable" }

// neverWakes reports wait states that no other goroutine can end.
func neverWakes(state string) bool {
	return strings.HasSuffix(state, "(nil chan)") || strings.HasPrefix(state, "select (no cases)")
}

// origin follows "created by" back to the block's own goroutine, or to the
// first creator that has exited.
func (s *snapshot) origin(g *stack.Goroutine, runners []uint64) []Creation {
	var chain []Creation
	for cur := g; cur != nil && cur.CreatedBy.Func != "" && len(chain) < maxOrigin; {
		c := Creation{Frame: cur.CreatedBy, Goroutine: cur.CreatorID, InBlock: slices.Contains(runners, cur.CreatorID)}
		next := s.byID[cur.CreatorID]
		c.Exited = !c.InBlock && next == nil
		chain = append(chain, c)
		if c.InBlock {
			break
		}
		cur = next
	}
	return chain
}

// maxOrigin bounds a creation chain.
const maxOrigin = 32
