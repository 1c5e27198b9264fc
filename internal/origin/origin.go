// Package origin tells where the things a run of a block created were
// created, from the memory profile: the records of allocations made since a
// baseline whose stacks pass through given functions (os.StartProcess,
// os.Mkdir…), each with its stack from that function out to the block, and
// the run it belongs to by its marker frame. It also tells whether a run of
// one probe overlapped another run of the same probe.
package origin

import (
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// Baseline is how many objects each allocation stack had allocated at one
// moment, so that what a run allocated is the difference. Read-only: it may
// be shared.
type Baseline = memprof.Objects

// Take returns the memory profile's counts as last published, without a
// GC: allocations made since the last GC cycle are missing, and will look
// made after the baseline. Cheap; for a probe that only reads stacks, where
// a few extra sites do no harm.
func Take() Baseline { return memprof.PublishedObjects() }

// TakeCurrent is Take after flushing the profile (two GCs): exact, for a
// probe that counts what the run allocated.
func TakeCurrent() Baseline {
	recs, release := memprof.MemProfile()
	defer release()
	return memprof.ObjectsOf(recs)
}

// Owner says whose a site is.
type Owner int

const (
	Mine  Owner = iota // the stack runs through the run's marker frame
	Other              // through another run's marker frame
	None               // through no marker: some goroutine's
)

// Site is one place that allocated through a watched function since the
// baseline.
type Site struct {
	// Via is the watched function, the outermost of those on the stack.
	Via string
	// Frames run from Via out to the block's own code: the frame that
	// called the marker, or the user's function a wrapper of residue's or
	// a test framework's called there (stack.OwnCode); to the goroutine's
	// entry function when Owner is None. Innermost first.
	Frames []stack.Frame
	// Count is the number of objects the stack allocated since the baseline
	// (the largest among the records of one site).
	Count int64
	Owner Owner
}

// Block returns the frame of the block itself (the outermost of Frames), or
// a zero frame when there are none.
func (s *Site) Block() stack.Frame {
	if len(s.Frames) == 0 {
		return stack.Frame{}
	}
	return s.Frames[len(s.Frames)-1]
}

// Sites flushes the memory profile (two GCs) and returns the sites of the
// allocations made since b through a function watched(fn) reports, grouped
// by the stack from that function out, in the order first seen. Stacks cut
// at runtime.MemProfile's 32 frames are read in full from the heap profile.
// A stack is r's when it runs through r's marker frame, or through the
// function that adopted r (probes.Run.Adopt: a test audited as a whole),
// which is kept as the site's outermost frame.
func Sites(b Baseline, r *probes.Run, watched func(fn string) bool) []Site {
	recs, whole, release := memprof.FlushedRecords()
	defer release()
	type rec struct {
		pcs   []uintptr
		count int64
	}
	var hits []rec
	cut := false
	calls := memprof.CallerOf(watched)
	for i := range recs {
		r := &recs[i]
		g := r.AllocObjects - b.Of(len(recs), i)
		if g <= 0 || !calls.In(r.Stack) {
			continue
		}
		if !whole && len(r.Stack) == 32 {
			cut = true
			continue
		}
		hits = append(hits, rec{r.Stack, g})
	}
	if cut {
		// Keys are shared by stacks deeper than 32 frames that differ
		// only below the cut: what a key gained goes to each full stack
		// under it, at most what that stack allocated.
		gained := b.Gained(recs)
		for _, r := range memprof.FullStackProfile() {
			if len(r.Stack) <= 32 || !calls.In(r.Stack[:32]) {
				continue
			}
			if g := gained[memprof.KeyOf(r.Stack)]; g > 0 {
				hits = append(hits, rec{r.Stack, min(r.AllocObjects, g)})
			}
		}
	}
	var out []Site
	index := map[string]int{}
	for _, h := range hits {
		s, ok := site(memprof.Symbolize(h.pcs), r, watched)
		if !ok {
			continue
		}
		s.Count = h.count
		k := s.key()
		if i, ok := index[k]; ok {
			out[i].Count = max(out[i].Count, s.Count)
			continue
		}
		index[k] = len(out)
		out = append(out, s)
	}
	return out
}

func site(frames []stack.Frame, r *probes.Run, watched func(string) bool) (Site, bool) {
	via := -1
	s := Site{Owner: None}
	for i, f := range frames {
		if probes.IsMarker(f.Func) {
			s.Owner = Other
			if f.Func == r.Marker() {
				s.Owner = Mine
			}
			frames = frames[:i]
			break
		}
		if r.Owns(f.Func) {
			s.Owner = Mine
			frames = frames[:i+1]
			if watched(f.Func) {
				via = i
			}
			break
		}
		if f.Func == "testing.tRunner" && i > 0 && isTestFunc(frames[i-1].Func) && r.Adopted() {
			// For a test checked as a whole, a top-level test's own code
			// that does not run through the test that adopted r (met
			// above) is another test's, whose allocations the memory
			// profile may publish late, after r started. (A run around
			// m.Run, as VerifyTestMain's, has every test's code.)
			s.Owner = Other
			frames = frames[:i]
			break
		}
		if f.Func == "runtime.goexit" {
			frames = frames[:i]
			break
		}
		if watched(f.Func) {
			via = i
		}
	}
	if via < 0 {
		return s, false
	}
	s.Via = frames[via].Func
	for _, f := range frames[via:] {
		if !stack.IsRuntime(f.Func) || f.Func == s.Via {
			s.Frames = append(s.Frames, f)
		}
	}
	if s.Owner != None {
		s.Frames = stack.OwnCode(s.Frames)
	}
	return s, true
}

// isTestFunc reports whether fn, as runtime.FuncForPC names it, is a
// top-level test function ("example.com/m/pkg.TestX"): not a closure, a
// method or a named subtest function.
func isTestFunc(fn string) bool {
	_, name, ok := strings.Cut(fn[strings.LastIndexByte(fn, '/')+1:], ".")
	rest, test := strings.CutPrefix(name, "Test")
	if !ok || !test || strings.ContainsAny(rest, ".()") {
		return false
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return rest == "" || !unicode.IsLower(r)
}

// Entry returns the outermost function of Frames: for a site with no
// marker, the entry function of the goroutine that allocated.
func (s *Site) Entry() string { return s.Block().Func }

// Labelled reports whether a goroutine carrying the run's label runs fn: a
// goroutine the block started, still running, allocated at a site with no
// marker.
func Labelled(r *probes.Run, fn string) bool {
	if fn == "" {
		return false
	}
	for _, g := range stack.Groups(r.Label()) {
		if slices.ContainsFunc(g.Frames, func(f stack.Frame) bool { return f.Func == fn }) {
			return true
		}
	}
	return false
}

// Claim reports whether site s is run r's: its stack runs through r's
// marker; or, with no marker, it was allocated by a goroutine of the block:
// one that carries r's label and still runs that function, one whose entry
// is a closure (or go statement wrapper) of a function that allocated on
// the block's own stack since b — the go statement that started it — or,
// when that cannot be seen, any goroutine while alone says no other run of
// the probe was under way.
func Claim(s *Site, r *probes.Run, b Baseline, alone bool) bool {
	switch s.Owner {
	case Mine:
		return true
	case Other:
		return false
	}
	entry := s.Entry()
	if Labelled(r, entry) {
		return true
	}
	if parents := closureParents(entry); len(parents) > 0 && r.Exclusive() {
		return ranOnBlock(b, r.Marker(), parents)
	}
	return alone
}

// ranOnBlock reports whether a record allocated since b has one of fns on
// its stack between the allocation and marker (a profile Sites has
// flushed).
func ranOnBlock(b Baseline, marker string, fns []string) bool {
	recs, _, release := memprof.PublishedRecords()
	defer release()
	is := func(f string) bool { return slices.Contains(fns, f) }
	calls := memprof.CallerOf(is)
	for i := range recs {
		r := &recs[i]
		if r.AllocObjects <= b.Of(len(recs), i) || !calls.In(r.Stack) {
			continue
		}
		seen := false
		for _, f := range memprof.Symbolize(r.Stack) {
			if probes.IsMarker(f.Func) {
				if seen && f.Func == marker {
					return true
				}
				break
			}
			seen = seen || is(f.Func)
		}
	}
	return false
}

// closureParents returns the functions in which a closure or go statement
// wrapper is defined, innermost first: "pkg.f.func1" and "pkg.f" for
// "pkg.f.func1.2", "pkg.(*T).m" for "pkg.(*T).m.gowrap1"; none when fn is
// not one.
func closureParents(fn string) []string {
	var out []string
	for p := stack.Enclosing(fn); p != ""; p = stack.Enclosing(p) {
		out = append(out, p)
	}
	return out
}

func (s *Site) key() string {
	k := string(rune('0'+s.Owner)) + "|" + s.Via
	for _, f := range s.Frames[1:] {
		k += "|" + f.Location() + " " + f.Func
	}
	return k
}

// Runs tracks the runs of one probe under way, so that a run can tell
// whether another ran at the same time: while a run is alone, a leftover
// no stack ties to anyone can only be its block's (or an unprobed
// concurrent test's).
type Runs struct {
	mu     sync.Mutex
	active map[*Span]bool
}

// Span is one run in Runs.
type Span struct {
	runs       *Runs
	run        *probes.Run
	overlapped bool
}

// Begin registers run. A run nested in another (see probes.Run.Encloses)
// does not make either overlapped: the inner block is part of the outer.
func (rs *Runs) Begin(run *probes.Run) *Span {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.active == nil {
		rs.active = map[*Span]bool{}
	}
	s := &Span{runs: rs, run: run}
	for o := range rs.active {
		if !o.run.Encloses(run) && !run.Encloses(o.run) {
			o.overlapped, s.overlapped = true, true
		}
	}
	rs.active[s] = true
	return s
}

// End removes the run.
func (s *Span) End() {
	s.runs.mu.Lock()
	defer s.runs.mu.Unlock()
	delete(s.runs.active, s)
}

// Alone reports whether no other run was under way at any time since Begin.
func (s *Span) Alone() bool {
	s.runs.mu.Lock()
	defer s.runs.mu.Unlock()
	return !s.overlapped
}
