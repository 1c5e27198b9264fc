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
	Stack        []Frame    // innermost first
	Origin       []Creation // the go statements that led to it, its own first
	Raw          string     // the runtime's text for it
}

// Creation is one go statement in a goroutine's origin.
type Creation struct {
	Frame            // the function and line of the go statement
	Goroutine uint64 // the goroutine that executed it
	InBlock   bool   // that goroutine was the one running the block itself
	Exited    bool   // that goroutine has exited, so the chain stops here
}

// GoroutineReport lists what a block left running.
type GoroutineReport struct {
	Goroutines []Goroutine
	Within     time.Duration // the settle window
	Waited     time.Duration // how long the probe waited after the block returned
}

// Leaked reports whether any goroutine was left.
func (r *GoroutineReport) Leaked() bool { return r != nil && len(r.Goroutines) > 0 }

// GoroutineProbe finds the goroutines a block started, directly or through
// other goroutines, that are still alive once the block has returned and the
// settle window has passed. It is a probes.Probe.
type GoroutineProbe struct {
	cfg    config
	report *GoroutineReport
}

// NewGoroutineProbe returns a probe configured by opts.
func NewGoroutineProbe(opts ...Option) *GoroutineProbe {
	return &GoroutineProbe{cfg: newConfig(opts)}
}

// Report returns what the last run left, or nil before a run.
func (p *GoroutineProbe) Report() *GoroutineReport { return p.report }

// Before implements probes.Probe.
func (p *GoroutineProbe) Before(*probes.Run) error { p.report = nil; return nil }

// After implements probes.Probe: it settles and records the report.
func (p *GoroutineProbe) After(r *probes.Run) error {
	p.report = p.settle(r)
	return nil
}

// FindGoroutines runs block once and reports the goroutines it left running.
// The error is set when the block panicked or called runtime.Goexit.
func FindGoroutines(block func(), opts ...Option) (*GoroutineReport, error) {
	p := NewGoroutineProbe(opts...)
	_, err := probes.Exec(block, p)
	return p.report, err
}

// leakProfile is the runtime's goroutineleak profile (Go 1.27 by default),
// nil where the runtime has none.
var leakProfile = pprof.Lookup("goroutineleak")

type sighting struct {
	at    time.Time
	state string
}

func (p *GoroutineProbe) settle(r *probes.Run) *GoroutineReport {
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
	return &GoroutineReport{Goroutines: left, Within: p.cfg.within, Waited: time.Since(r.Returned)}
}

// find looks once for the run's goroutines that are alive and not ignored.
func (p *GoroutineProbe) find(r *probes.Run, prove bool, seen map[uint64]sighting) []Goroutine {
	buf := getBuffer()
	defer putBuffer(buf)
	if prove {
		buf.Reset()
		_ = leakProfile.WriteTo(buf, 2)
	} else {
		fullDump(buf)
	}
	all := stack.ParseDump(buf.Bytes(), r.Runner+1)
	byID := make(map[uint64]*stack.Goroutine, 64)
	var young []*stack.Goroutine // started after the runner: the only ones that can be the block's
	for i := range all {
		if all[i].ID > r.Runner {
			young = append(young, &all[i])
			byID[all[i].ID] = &all[i]
		}
	}
	if len(young) == 0 {
		return nil
	}
	slices.SortFunc(young, func(a, b *stack.Goroutine) int { return cmp.Compare(a.ID, b.ID) })

	// Ancestry: a goroutine belongs to the run whose runner, or one of whose
	// goroutines, started it. Creators have smaller IDs, so one pass suffices.
	runners := probes.ActiveRunners()
	runners[r.Runner] = r
	owner := map[uint64]uint64{}
	for _, g := range young {
		if run, ok := runners[g.CreatorID]; ok {
			owner[g.ID] = run.ID
		} else if o, ok := owner[g.CreatorID]; ok {
			owner[g.ID] = o
		}
	}

	// Labels: the goroutine profile counts, per stack, the goroutines that
	// carry the run's label, including those whose creator has exited.
	buf.Reset()
	_ = pprof.Lookup("goroutine").WriteTo(buf, 1)
	labelled := map[string]int{}
	var unmatched []stack.Group
	for _, gr := range stack.ParseProfile(buf.Bytes()) {
		if gr.HasLabel(r.Label) {
			labelled[gr.Key()] += gr.Count
			unmatched = append(unmatched, gr)
		}
	}
	mine := map[uint64]bool{}
	for _, g := range young {
		if owner[g.ID] == r.ID {
			mine[g.ID] = true
			labelled[g.Key()]--
		}
	}
	for i := len(young) - 1; i >= 0; i-- { // newest first
		g := young[i]
		if k := g.Key(); labelled[k] > 0 && !mine[g.ID] && owner[g.ID] == 0 {
			mine[g.ID] = true
			labelled[k]--
		}
	}

	now := time.Now()
	var out []Goroutine
	for _, g := range young {
		if !mine[g.ID] || p.cfg.ignored(g) {
			continue
		}
		lg := Goroutine{
			ID:           g.ID,
			State:        g.State,
			StuckForever: g.Leaked || neverWakes(g.State),
			Stack:        g.Frames,
			Origin:       origin(g, r.Runner, byID),
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
	for _, gr := range unmatched {
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

// neverWakes reports wait states that no other goroutine can end.
func neverWakes(state string) bool {
	return strings.HasSuffix(state, "(nil chan)") || strings.HasPrefix(state, "select (no cases)")
}

// origin follows "created by" back to the block's own goroutine, or to the
// first creator that has exited.
func origin(g *stack.Goroutine, runner uint64, byID map[uint64]*stack.Goroutine) []Creation {
	var chain []Creation
	for cur := g; cur != nil && cur.CreatedBy.Func != "" && len(chain) < 32; {
		c := Creation{Frame: cur.CreatedBy, Goroutine: cur.CreatorID, InBlock: cur.CreatorID == runner}
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
func (r *GoroutineReport) String() string {
	if !r.Leaked() {
		return "the block left no goroutines running"
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
		k := fmt.Sprint(g.State, g.StuckForever, g.Stack, originKey(g.Origin))
		if groups[k] == nil {
			groups[k] = &group{}
			order = append(order, k)
		}
		groups[k].gs = append(groups[k].gs, g)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the block left %s running after it returned", plural(len(r.Goroutines), "goroutine"))
	if stuck > 0 {
		fmt.Fprintf(&b, " (%d proven stuck forever)", stuck)
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
		writeFrames(&b, g.Stack)
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

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
