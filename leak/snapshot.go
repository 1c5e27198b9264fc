package leak

import (
	"bytes"
	"cmp"
	"slices"
	"sync"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// snapshot is one look at every goroutine of the process: the full dump,
// which has IDs and creators, and, when they matter (see needsLabels), the
// goroutine profile's groups that carry the run's label, which have no IDs.
type snapshot struct {
	all      []stack.Goroutine // by ID
	byID     map[uint64]*stack.Goroutine
	labelled []stack.Group
}

// look takes a snapshot for run r; proved asks the runtime's goroutineleak
// profile (which runs a GC) to mark the goroutines it proves stuck. It
// returns nil when every goroutine alive existed before the block or runs
// it, which is the common clean case and costs one dump.
func look(r *probes.Run, before map[uint64]bool, prove bool) *snapshot {
	var dump []byte
	if prove {
		buf := getBuffer()
		defer putBuffer(buf)
		_ = leakProfile.WriteTo(buf, 2)
		dump = buf.Bytes()
	} else {
		var release func()
		dump, release = stack.Dump()
		defer release()
	}
	// The goroutine looking runs this check, not a leftover of the block:
	// Ginkgo, for one, runs a spec's cleanup, and so CheckEverySpec's
	// check, on a goroutine of its own, started after the block. Whether it
	// is the block's is left to the full look when anything else is new.
	var self uint64
	if !prove {
		self, _ = stack.Caller(dump)
	}
	fresh := false
	runners := r.Runners()
	for id := range stack.IDs(dump) {
		if !before[id] && id != self && !slices.Contains(runners, id) {
			fresh = true
			break
		}
	}
	if !fresh {
		if !prove {
			// The look that ends the window: the globals probe's first
			// look after the block is this one.
			r.ShareLook(string(dump))
		}
		return nil
	}
	s := &snapshot{all: stack.ParseDump(string(dump))}
	slices.SortFunc(s.all, func(a, b stack.Goroutine) int { return cmp.Compare(a.ID, b.ID) })
	s.byID = make(map[uint64]*stack.Goroutine, len(s.all))
	for i := range s.all {
		s.byID[s.all[i].ID] = &s.all[i]
	}
	return s
}

// needsLabels reports whether the run's label counts can change what the
// run reports: when a new goroutine is the run's by ancestry, or could be
// (its creators exited, or it belongs to a run nested in the block), and
// the options do not ignore it. New goroutines that all belong to other runs
// beside this one, such as parallel tests' checks, cannot carry its label;
// an ignored one (os/signal's loop, started by whichever test first asked
// for signals) is not reported whoever's it is.
func (s *snapshot) needsLabels(roles []role, ignored func(*stack.Goroutine) bool) bool {
	for i, ro := range roles {
		if (ro == roleOwned || ro == roleUnowned || ro == roleNestedRun) && !ignored(&s.all[i]) {
			return true
		}
	}
	return false
}

// readLabels reads the goroutine profile's groups that carry r's label.
func (s *snapshot) readLabels(r *probes.Run) {
	s.labelled = append(s.labelled, stack.Groups(r.Label())...)
}

// role is what a goroutine of a snapshot is to the run, by its creators.
type role uint8

const (
	// roleOld existed before the block started: never the block's.
	roleOld role = iota
	// roleRunner runs, or ran, the block itself.
	roleRunner
	// roleOwned was started by the run's runner, directly or through
	// creators that are all still alive.
	roleOwned
	// roleNestedRun leads, through living creators, to the runner of a run
	// started inside the block: the block's when its goroutines carry both
	// labels.
	roleNestedRun
	// roleOtherRun leads, through living creators, to the runner of another
	// run under way, not nested in this one: never the block's.
	roleOtherRun
	// roleUnowned is new, and its chain of creators breaks at one that has
	// exited: only the labels can tell whose it is.
	roleUnowned
	// roleForeign is new, and its chain of living creators ends at a
	// goroutine that runs no block: one older than the run, or one with no
	// creator (the main goroutine, the runtime's finalizer goroutine). A
	// goroutine gets its labels from its creator, so it carries the run's
	// label only if a runner is among its creators: never the block's.
	roleForeign
)

// ownership gives each goroutine of s its role, following "created by … in
// goroutine N" through living creators to the runner of r or of another run.
func (s *snapshot) ownership(r *probes.Run, before map[uint64]bool) []role {
	runners := r.Runners()
	// owner per ID: the run a walk ended at (nil: none), and whether it
	// ended at a living goroutine that runs no block, once resolved.
	type resolved struct {
		run     *probes.Run
		foreign bool
	}
	done := make(map[uint64]resolved, len(s.all))
	runOf := func(id uint64) (*probes.Run, bool) {
		if slices.Contains(runners, id) {
			return r, true
		}
		run := probes.RunnerOf(id)
		return run, run != nil
	}
	var walk []uint64
	for i := range s.all {
		walk = walk[:0]
		var end resolved
		for id := s.all[i].ID; ; {
			if d, ok := done[id]; ok {
				end = d
				break
			}
			g := s.byID[id]
			if g == nil || len(walk) > len(s.all) {
				break
			}
			walk = append(walk, id)
			if rr, ok := runOf(g.CreatorID); ok {
				end.run = rr
				break
			}
			// runOf said no runner created g; an old creator, or none,
			// ends the chain outside every block.
			if g.CreatorID == 0 || before[g.CreatorID] && s.byID[g.CreatorID] != nil {
				end.foreign = true
				break
			}
			id = g.CreatorID
		}
		for _, id := range walk {
			done[id] = end
		}
	}
	roles := make([]role, len(s.all))
	for i := range s.all {
		g := &s.all[i]
		switch run := done[g.ID].run; {
		case slices.Contains(runners, g.ID):
			roles[i] = roleRunner
		case before[g.ID]:
			roles[i] = roleOld
		case done[g.ID].foreign:
			roles[i] = roleForeign
		case run == r:
			roles[i] = roleOwned
		case r.Encloses(run):
			roles[i] = roleNestedRun
		case run != nil:
			roles[i] = roleOtherRun
		default:
			roles[i] = roleUnowned
		}
	}
	return roles
}

// claim is a goroutine the run counts as its own.
type claim struct {
	g *stack.Goroutine
	// twin is set when the label counts say the run left one goroutine with
	// this stack, but another new goroutine with the same stack, whose
	// creator has also exited, could be the one: which of them is the run's
	// is unknown.
	twin bool
}

// claims picks the run's goroutines. Ancestry names those whose creators are
// alive. The run's label, which every goroutine started from a labelled one
// inherits, is counted per stack by the goroutine profile: those counts are
// exact, and the goroutines ancestry cannot place — new ones whose creator
// exited, then those of runs nested in the block, which carry both labels —
// make them up, stack by stack.
func (s *snapshot) claims(roles []role) []claim {
	left := map[string]int{} // labelled goroutines per stack not yet claimed
	for _, gr := range s.labelled {
		left[gr.Key()] += gr.Count
	}
	var out []claim
	unowned := map[string]int{} // candidates per stack
	for i := range s.all {
		switch roles[i] {
		case roleOwned:
			out = append(out, claim{g: &s.all[i]})
			if len(s.labelled) > 0 {
				left[s.all[i].Key()]--
			}
		case roleUnowned:
			if len(s.labelled) > 0 {
				unowned[s.all[i].Key()]++
			}
		}
	}
	for _, nested := range []role{roleUnowned, roleNestedRun} {
		for i := len(s.all) - 1; i >= 0 && len(left) > 0; i-- {
			if roles[i] != nested {
				continue
			}
			g := &s.all[i]
			if k := g.Key(); left[k] > 0 {
				out = append(out, claim{g: g, twin: nested == roleUnowned && unowned[k] > left[k]})
				left[k]--
				unowned[k]--
			}
		}
	}
	slices.SortFunc(out, func(a, b claim) int { return cmp.Compare(a.g.ID, b.g.ID) })
	// Labelled goroutines no dump entry matched: still the block's, known
	// by stack only, when they started between the dump and the profile. A
	// goroutine of the block whose stack moved on in between (one still
	// starting at the dump) was claimed from the dump under its first
	// stack, which left that stack overclaimed and its stack in the
	// profile unclaimed: it is not counted twice.
	moved := 0
	for _, n := range left {
		moved += max(-n, 0)
	}
	for _, gr := range s.labelled {
		n := left[gr.Key()]
		if n <= 0 {
			continue
		}
		left[gr.Key()] = 0
		same := min(n, moved)
		moved -= same
		for range n - same {
			out = append(out, claim{g: &stack.Goroutine{State: "unknown", Frames: gr.Frames}})
		}
	}
	return out
}

// buffers hold the goroutineleak profiles the probe writes; dumps are
// stack.Dump's, and the goroutine profile's labels are read by
// stack.Groups.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() <= 16<<20 {
		b.Reset()
		buffers.Put(b)
	}
}
