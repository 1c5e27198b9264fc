package leak

import (
	"cmp"
	"slices"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// maxHops bounds how many exited creators traceCreations looks through.
const maxHops = 8

// traceCreations completes the origin of each leftover with the memory
// profile: how the block's own code reached the go statement that started
// it, through creators that have exited. A chain is completed only when the
// profile leaves no doubt:
//
//   - the go statement ran on the block's goroutine: the stacks of the
//     allocations made at its very line, under the run's marker frame, each
//     lead from it to a line of the block;
//   - it ran on a goroutine that has exited: the allocations at its line
//     show that goroutine's entry function; when that is a closure or go
//     wrapper of one function, that function's allocations under the marker
//     (or, again, in one exited goroutine) lead further.
//
// With another run sharing the marker, no stack can be told to be this
// run's, and nothing is added.
func (p *probe) traceCreations(left []Goroutine, r *probes.Run) {
	// Once the recording stopped (memprof.StackBudget), a way missing
	// from the profile could leave another looking like the only one.
	if !r.Exclusive() || r.StacksStopped() {
		return
	}
	t := tracer{marker: r.Marker(), memo: map[probes.Frame][]Creation{}, ways: map[probes.Frame][][]probes.Frame{}, cycles: p.cycles, published: r.ProfileHoldsBlock()}
	defer func() {
		if t.sites != nil {
			t.sites.Release()
		}
	}()
	for i := range left {
		o := left[i].Origin
		if len(o) == 0 {
			continue
		}
		last := &o[len(o)-1]
		switch {
		case last.InBlock:
			ways, ok := t.ways[last.Frame]
			if !ok {
				ways = t.fromBlock(last.Frame)
				t.ways[last.Frame] = ways
			}
			last.From = ways
		case last.Exited:
			left[i].Origin = append(o, t.through(last.Frame, 0)...)
		}
	}
}

type tracer struct {
	marker string
	sites  *memprof.Sites
	memo   map[probes.Frame][]Creation       // through, per go statement
	ways   map[probes.Frame][][]probes.Frame // fromBlock, per go statement
	cycles uint64                            // GC cycles ended before the block started
	// published is set when the profile as last published holds every
	// allocation of the block (probes.Run.ProfileHoldsBlock): other probes'
	// cycles since it returned published it, and it is read as it is.
	published bool
	// recentOnly keeps the stacks that allocated since the profile was last
	// published. The runtime publishes allocations when a GC cycle ends; if
	// none ended since the block started, all the run's allocations are
	// among them, and earlier runs that shared the marker and went through
	// the same go statement from other lines, published, are left out.
	// Before the first cycle has ended, the runtime shows every allocation
	// as published: nothing is left out then.
	recentOnly bool
}

func (t *tracer) at(fn, file string, line int) []memprof.Stack {
	switch {
	case t.sites != nil:
	case t.published:
		t.sites = memprof.PublishedSites()
	default:
		t.recentOnly = t.cycles > 0 && memprof.GCCycles() == t.cycles
		t.sites = memprof.FlushSites()
	}
	all := t.sites.At(fn, file, line)
	if !t.recentOnly {
		return all
	}
	return slices.DeleteFunc(all, func(st memprof.Stack) bool { return !st.Recent })
}

// fromBlock returns the ways from the block's code to the go statement at
// f, which ran on the block's goroutine.
func (t *tracer) fromBlock(f probes.Frame) [][]probes.Frame {
	var out [][]probes.Frame
	for _, st := range t.at(f.Func, f.File, f.Line) {
		if p := t.toMarker(st.Frames); p != nil {
			out = append(out, p)
		}
	}
	sortWays(out)
	return ownCode(t.certain(out))
}

// ownCode trims each way to the block's own code (stack.OwnCode), once
// certain has compared the ways' outermost frames, the block itself.
func ownCode(ways [][]probes.Frame) [][]probes.Frame {
	for i, w := range ways {
		ways[i] = stack.OwnCode(w)
	}
	return ways
}

// certain returns ways, or nil when they may not all be the run's: when
// earlier runs' allocations could not be left out and the ways start in
// different functions, whereas a run's block is one function.
func (t *tracer) certain(ways [][]probes.Frame) [][]probes.Frame {
	if t.recentOnly {
		return ways
	}
	for _, w := range ways {
		if w[len(w)-1].Func != ways[0][len(ways[0])-1].Func {
			return nil
		}
	}
	return ways
}

// sortWays orders ways by the block's line they start from.
func sortWays(ways [][]probes.Frame) {
	slices.SortFunc(ways, func(a, b []probes.Frame) int {
		return cmp.Or(cmp.Compare(a[len(a)-1].File, b[len(b)-1].File), cmp.Compare(a[len(a)-1].Line, b[len(b)-1].Line),
			cmp.Compare(len(a), len(b)))
	})
}

// toMarker cuts a stack to the frames from its allocation site out to the
// block's own frame, or returns nil when the run's marker is not in it.
func (t *tracer) toMarker(st []probes.Frame) []probes.Frame {
	from := slices.IndexFunc(st, func(f probes.Frame) bool { return !stack.IsRuntime(f.Func) })
	end := slices.IndexFunc(st, func(f probes.Frame) bool { return f.Func == t.marker })
	if from < 0 || end <= from {
		return nil
	}
	return st[from:end]
}

// onAnyBlock reports whether a stack ran some run's block, this one's or
// another's.
func onAnyBlock(st []probes.Frame) bool {
	return slices.ContainsFunc(st, func(f probes.Frame) bool { return probes.IsMarker(f.Func) })
}

// through returns the creations that led to the exited goroutine that ran
// the go statement at f, as far as the profile tells them for certain.
func (t *tracer) through(f probes.Frame, hops int) []Creation {
	if c, ok := t.memo[f]; ok {
		return c
	}
	t.memo[f] = nil // a cycle ends here
	var out []Creation
	if hops < maxHops {
		out = t.step(f, hops)
	}
	t.memo[f] = out
	return out
}

func (t *tracer) step(f probes.Frame, hops int) []Creation {
	// The exited goroutine's entry, from the stacks that allocated at f on
	// a goroutine other than the block's.
	var entry probes.Frame
	for _, st := range t.at(f.Func, f.File, f.Line) {
		if onAnyBlock(st.Frames) {
			continue
		}
		if st.Entry.Func == "" || (entry.Func != "" && st.Entry != entry) {
			return nil
		}
		entry = st.Entry
	}
	parent := stack.Enclosing(entry.Func)
	if parent == "" {
		return nil
	}
	// The go statement that started it is on the line where the closure
	// (or the go statement's wrapper) is declared, in parent; it allocated
	// there, reached from the block or from one other exited goroutine.
	// Stacks through other runs' blocks are theirs.
	site := probes.Frame{Func: parent, File: entry.File, Line: entry.Line}
	var (
		fromRun  [][]probes.Frame
		fromElse bool
	)
	for _, st := range t.at(site.Func, site.File, site.Line) {
		if p := t.toMarker(st.Frames); p != nil {
			fromRun = append(fromRun, p)
		} else if !onAnyBlock(st.Frames) {
			fromElse = true
		}
	}
	switch {
	case len(fromRun) > 0 && !fromElse:
		sortWays(fromRun)
		if fromRun = t.certain(fromRun); fromRun == nil {
			return nil
		}
		return []Creation{{Frame: site, InBlock: true, From: ownCode(fromRun)}}
	case len(fromRun) == 0 && fromElse:
		return append([]Creation{{Frame: site, Exited: true}}, t.through(site, hops+1)...)
	}
	return nil
}
