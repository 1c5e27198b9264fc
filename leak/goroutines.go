package leak

import (
	"bytes"
	"cmp"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/internal/text"
	"github.com/residue-go/residue/probes"
)

// Frame is one call in a goroutine's stack.
type Frame = stack.Frame

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
	// Ambiguous is set when a concurrently probed block left a goroutine
	// with the identical stack and both creators have exited: the count is
	// exact, but ID may be the twin's.
	Ambiguous bool
	Stack     []Frame    // innermost first
	Origin    []Creation // the go statements that led to it, its own first
	Raw       string     // the runtime's text for it
}

// Creation is one go statement in a goroutine's origin.
type Creation struct {
	Frame            // the function and line of the go statement
	Goroutine uint64 // the goroutine that executed it
	InBlock   bool   // that goroutine was the one running the block itself
	Exited    bool   // that goroutine has exited, so the chain stops here
}

// Report lists what a block left running.
type Report struct {
	Goroutines []Goroutine
	Within     time.Duration // the settle window
	Waited     time.Duration // how long the probe waited after the block returned
}

// Leaked reports whether any goroutine was left.
func (r *Report) Leaked() bool { return r != nil && len(r.Goroutines) > 0 }

// Probe finds the goroutines a block started, directly or through
// other goroutines, that are still alive once the block has returned and the
// settle window has passed. It is a probes.Probe.
type Probe struct {
	cfg    config
	before map[uint64]bool // goroutines alive before the block
	report *Report
}

// Kind registers the probe with the combined checks.
var Kind = probes.NewKind(Name, NewProbe)

// NewProbe returns a probe configured by opts. An invalid option is an
// error naming it.
func NewProbe(opts ...Option) (*Probe, error) {
	cfg, err := newConfig(opts)
	return &Probe{cfg: cfg}, err
}

// Report returns what the last run left (a *Report), or nil before a run.
func (p *Probe) Report() probes.Report {
	if p.report == nil {
		return nil
	}
	return p.report
}

// Before implements probes.Probe.
func (p *Probe) Before(*probes.Run) error {
	p.report = nil
	buf := getBuffer()
	defer putBuffer(buf)
	fullDump(buf)
	p.before = stack.IDs(buf.Bytes())
	return nil
}

// After implements probes.Probe: it settles and records the report.
func (p *Probe) After(r *probes.Run) error {
	p.report = p.settle(r)
	return nil
}

// Find runs block once and reports the goroutines it left running.
// The error is set when the block panicked or called runtime.Goexit.
func Find(block func(), opts ...Option) (*Report, error) {
	p, err := NewProbe(opts...)
	if err != nil {
		return nil, err
	}
	_, err = probes.Exec(block, p)
	return p.report, err
}

// leakProfile is the runtime's goroutineleak profile (Go 1.27 by default),
// nil where the runtime has none.
var leakProfile = pprof.Lookup("goroutineleak")

type sighting struct {
	at    time.Time
	state string
}

func (p *Probe) settle(r *probes.Run) *Report {
	var (
		left []Goroutine
		seen = map[uint64]sighting{}
	)
	probes.Settle(p.cfg.within, func(attempt int, last bool) bool {
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
	return &Report{Goroutines: left, Within: p.cfg.within, Waited: time.Since(r.Returned())}
}

// find looks once for the run's goroutines that are alive and not ignored.
//
// Two signals mark them. The run's pprof label, which every goroutine started
// from a labelled one inherits, is counted per stack by the goroutine
// profile, the only text form that shows labels; it has no goroutine IDs.
// The full dump has IDs and each goroutine's creator, so ancestry leads from
// a goroutine to the run whose block started it while the creators are alive
// (and also finds goroutines started under labels the user replaced). The
// label counts are exact; ancestry picks the IDs.
func (p *Probe) find(r *probes.Run, prove bool, seen map[uint64]sighting) []Goroutine {
	buf := getBuffer()
	defer putBuffer(buf)
	if prove {
		_ = leakProfile.WriteTo(buf, 2)
	} else {
		fullDump(buf)
	}
	runners := map[uint64]bool{}
	for _, id := range r.Runners() {
		runners[id] = true
	}
	// Only goroutines that did not exist before the block can be its own.
	fresh := false
	for id := range stack.IDs(buf.Bytes()) {
		if !p.before[id] && !runners[id] {
			fresh = true
			break
		}
	}
	if !fresh {
		return nil
	}
	all := stack.ParseDump(buf.String())
	slices.SortFunc(all, func(a, b stack.Goroutine) int { return cmp.Compare(a.ID, b.ID) })

	buf.Reset()
	_ = pprof.Lookup("goroutine").WriteTo(buf, 1)
	labelled := map[string]int{}
	var groups []stack.Group
	for _, gr := range stack.ParseProfile(buf.Bytes()) {
		if gr.HasLabel(r.Label()) {
			labelled[gr.Key()] += gr.Count
			groups = append(groups, gr)
		}
	}
	byID := make(map[uint64]*stack.Goroutine, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	owner := ancestry(all, byID, r, runners)

	mine := map[uint64]bool{}
	unowned := map[string]int{} // per stack, goroutines no run claims by ancestry
	for i := range all {
		g := &all[i]
		if runners[g.ID] {
			continue
		}
		switch o := owner[g.ID]; {
		case o == r.ID():
			mine[g.ID] = true
			if len(labelled) > 0 {
				labelled[g.Key()]--
			}
		case o == 0 && len(labelled) > 0:
			unowned[g.Key()]++
		}
	}
	if len(mine) == 0 && len(labelled) == 0 {
		return nil
	}
	// Labelled goroutines ancestry did not find: first those no run claims,
	// then those claimed by a run nested in this run's block, whose
	// goroutines carry both runs' labels.
	ambiguous := map[uint64]bool{}
	for _, nested := range []bool{false, true} {
		for i := len(all) - 1; i >= 0 && len(labelled) > 0; i-- {
			g := &all[i]
			if runners[g.ID] || mine[g.ID] || (owner[g.ID] != 0) != nested {
				continue
			}
			if k := g.Key(); labelled[k] > 0 {
				mine[g.ID] = true
				ambiguous[g.ID] = !nested && unowned[k] > labelled[k]
				labelled[k]--
				unowned[k]--
			}
		}
	}
	now := time.Now()
	var out []Goroutine
	for i := range all {
		g := &all[i]
		if !mine[g.ID] || p.cfg.ignored(g) {
			continue
		}
		lg := Goroutine{
			ID:           g.ID,
			State:        g.State,
			StuckForever: g.Leaked || neverWakes(g.State),
			Ambiguous:    ambiguous[g.ID],
			Stack:        g.Frames,
			Origin:       origin(g, runners, byID),
			Raw:          g.Raw,
		}
		s, ok := seen[g.ID]
		if !ok || s.state != g.State {
			s = sighting{now, g.State}
			seen[g.ID] = s
		}
		lg.Waited = max(now.Sub(s.at), g.Wait)
		out = append(out, lg)
	}
	// Labelled goroutines no dump entry matched (they started between the two
	// looks, or their stack text differs): still the block's, known by stack.
	for _, gr := range groups {
		if n := labelled[gr.Key()]; n > 0 {
			labelled[gr.Key()] = 0
			tmp := stack.Goroutine{Frames: gr.Frames}
			if p.cfg.ignored(&tmp) {
				continue
			}
			for range n {
				out = append(out, Goroutine{State: "unknown", Stack: gr.Frames})
			}
		}
	}
	return out
}

// ancestry maps goroutine IDs to the ID of the run whose block started them,
// following "created by … in goroutine N" through living creators to the
// runner goroutine of r or of any other run under way.
func ancestry(all []stack.Goroutine, byID map[uint64]*stack.Goroutine, r *probes.Run, own map[uint64]bool) map[uint64]uint64 {
	runOf := func(id uint64) (uint64, bool) {
		if own[id] {
			return r.ID(), true
		}
		run := probes.RunnerOf(id)
		return run, run != 0
	}
	owner := make(map[uint64]uint64, 16)
	known := make(map[uint64]bool, len(all))
	var chain []uint64
	for i := range all {
		// Walk up until a runner, a goroutine already resolved, or a creator
		// that is gone; then label the whole walk.
		chain = chain[:0]
		var run uint64
		for id := all[i].ID; !known[id]; {
			g := byID[id]
			if g == nil || len(chain) > len(all) {
				break
			}
			chain = append(chain, id)
			if rr, ok := runOf(g.CreatorID); ok {
				run = rr
				break
			}
			if known[g.CreatorID] {
				run = owner[g.CreatorID]
				break
			}
			id = g.CreatorID
		}
		for _, id := range chain {
			known[id] = true
			if run != 0 {
				owner[id] = run
			}
		}
	}
	return owner
}

// neverWakes reports wait states that no other goroutine can end.
func neverWakes(state string) bool {
	return strings.HasSuffix(state, "(nil chan)") || strings.HasPrefix(state, "select (no cases)")
}

// origin follows "created by" back to the block's own goroutine, or to the
// first creator that has exited.
func origin(g *stack.Goroutine, runners map[uint64]bool, byID map[uint64]*stack.Goroutine) []Creation {
	var chain []Creation
	for cur := g; cur != nil && cur.CreatedBy.Func != "" && len(chain) < 32; {
		c := Creation{Frame: cur.CreatedBy, Goroutine: cur.CreatorID, InBlock: runners[cur.CreatorID]}
		next := byID[cur.CreatorID]
		c.Exited = !c.InBlock && next == nil
		chain = append(chain, c)
		if c.InBlock {
			break
		}
		cur = next
	}
	return chain
}

var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		b.Reset()
		buffers.Put(b)
	}
}

// fullDump writes runtime.Stack(all) into buf, growing it until it fits.
func fullDump(buf *bytes.Buffer) {
	buf.Reset()
	b := buf.AvailableBuffer()
	if cap(b) < 64<<10 {
		b = make([]byte, 64<<10)
	}
	b = b[:cap(b)]
	for {
		n := runtime.Stack(b, true)
		if n < len(b) {
			buf.Write(b[:n])
			return
		}
		b = make([]byte, 2*len(b))
	}
}

// String formats the report as a failure message: a headline, then one block
// per distinct stack, identical goroutines grouped.
func (r *Report) String() string {
	if !r.Leaked() {
		return "The block left no goroutines running."
	}
	type group struct {
		gs []Goroutine
	}
	var order []string
	groups := map[string]*group{}
	stuck := 0
	for _, g := range r.Goroutines {
		if g.StuckForever {
			stuck++
		}
		k := fmt.Sprint(g.State, g.StuckForever, g.Ambiguous, g.Stack, originKey(g.Origin))
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].gs = append(groups[k].gs, g)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The block left %s running after it returned", text.Plural(len(r.Goroutines), "goroutine"))
	if stuck > 0 {
		fmt.Fprintf(&b, " (%d stuck forever, so reported without waiting out the %v settle window)", stuck, r.Within)
	} else {
		fmt.Fprintf(&b, " (still there after the %v settle window)", r.Within)
	}
	b.WriteString(":\n")
	for _, k := range order {
		gs := groups[k].gs
		g := gs[0]
		b.WriteString("\n")
		ids := make([]string, 0, len(gs))
		for _, x := range gs {
			if x.ID != 0 {
				ids = append(ids, fmt.Sprint(x.ID))
			}
		}
		switch {
		case len(gs) > 1 && len(ids) > 0:
			fmt.Fprintf(&b, "%d × goroutines %s", len(gs), strings.Join(ids, ", "))
		case len(gs) > 1:
			fmt.Fprintf(&b, "%d × goroutines", len(gs))
		case len(ids) == 1:
			fmt.Fprintf(&b, "goroutine %s", ids[0])
		default:
			b.WriteString("goroutine")
		}
		fmt.Fprintf(&b, " [%s", g.State)
		if g.Waited >= time.Millisecond {
			fmt.Fprintf(&b, ", waiting ≥ %v", g.Waited.Round(time.Millisecond))
		}
		b.WriteString("]")
		if g.StuckForever {
			b.WriteString(" — stuck forever: nothing left can wake it")
		}
		b.WriteString("\n")
		if g.Ambiguous {
			b.WriteString("    (a block probed at the same time left a goroutine with an identical stack and both creators\n" +
				"    have exited: the count is exact, but the ID shown may be the other block's)\n")
		}
		if len(g.Stack) == 0 && g.Raw != "" {
			// A stack in a form the parser does not know: the runtime's own text.
			for _, l := range strings.Split(g.Raw, "\n") {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		} else {
			writeFrames(&b, g.Stack)
		}
		for _, c := range g.Origin {
			fmt.Fprintf(&b, "    created by %s", c.Func)
			switch {
			case c.InBlock:
				b.WriteString(" — in the block")
			case c.Exited:
				fmt.Fprintf(&b, " in goroutine %d (exited; it was the block's)", c.Goroutine)
			default:
				fmt.Fprintf(&b, " in goroutine %d", c.Goroutine)
			}
			fmt.Fprintf(&b, "\n        %s\n", c.Location())
		}
	}
	return b.String()
}

// maxFrames bounds the frames shown per goroutine.
const maxFrames = 10

func writeFrames(b *strings.Builder, frames []Frame) {
	shown := 0
	for _, f := range frames {
		if stack.IsRuntime(f.Func) && len(frames) > 1 {
			continue
		}
		if shown == maxFrames {
			fmt.Fprintf(b, "    … %d more frames\n", len(frames)-shown)
			return
		}
		fmt.Fprintf(b, "    %s\n", f.Func)
		if loc := f.Location(); loc != "" {
			fmt.Fprintf(b, "        %s\n", loc)
		}
		shown++
	}
	if len(frames) == 0 {
		b.WriteString("    (stack unavailable)\n")
	}
}

func originKey(cs []Creation) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s %v|", c.Func, c.Location(), c.InBlock)
	}
	return b.String()
}
