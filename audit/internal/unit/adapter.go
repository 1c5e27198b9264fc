package unit

import (
	"strings"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/audit/record"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/leak"
)

// session is what a unit needs of a residue session.
type session interface {
	Adopt() (restore func())
	Enter(f func())
	Finish() (record.Counts, []record.Finding, error)
}

// start is the one place that knows residue's session and report API: it
// starts a session with every probe but allocations, and turns its report
// into counts and findings.
func start() (session, error) {
	s, err := residue.Start()
	if s == nil {
		return nil, err
	}
	return adapted{s}, err
}

type adapted struct{ s *residue.Session }

func (a adapted) Adopt() func()  { return a.s.Adopt() }
func (a adapted) Enter(f func()) { a.s.Enter(f) }

func (a adapted) Finish() (record.Counts, []record.Finding, error) {
	r, err := a.s.Finish()
	var c record.Counts
	var fs []record.Finding
	if r == nil {
		return c, fs, err
	}
	if g := r.Goroutines; g.Leaked() {
		c.Goroutines = len(g.Goroutines)
		fs = append(fs, group(record.Goroutines, g.Goroutines, goroutineKey, func(gs []leak.Goroutine) string {
			return body((&leak.GoroutineReport{Goroutines: gs, Within: g.Within, Waited: g.Waited}).String())
		})...)
	}
	if d := r.FDs; d.Leaked() {
		c.Descriptors = len(d.FDs)
		fs = append(fs, group(record.Descriptors, d.FDs, fdKey, func(fds []leak.FD) string {
			return body((&leak.FDReport{FDs: fds, SocketsOnly: d.SocketsOnly, Held: true, Within: d.Within, Waited: d.Waited}).String())
		})...)
	}
	if g := r.Globals; g.Changed() {
		c.Globals = len(g.Changes)
		fs = append(fs, group(record.Globals, g.Changes, func(ch globals.Change) string { return ch.Variable }, func(chs []globals.Change) string {
			lines := make([]string, len(chs))
			for i, ch := range chs {
				lines[i] = ch.String()
			}
			return strings.Join(lines, "\n")
		})...)
	}
	return c, fs, err
}

// group makes one finding per key, in the order keys first appear.
func group[T any](probe string, items []T, key func(T) string, text func([]T) string) []record.Finding {
	var order []string
	by := map[string][]T{}
	for _, it := range items {
		k := key(it)
		if _, ok := by[k]; !ok {
			order = append(order, k)
		}
		by[k] = append(by[k], it)
	}
	out := make([]record.Finding, len(order))
	for i, k := range order {
		out[i] = record.Finding{Probe: probe, Key: k, Count: len(by[k]), Text: text(by[k])}
	}
	return out
}

// body drops a probe report's headline, keeping the blocks that follow.
func body(s string) string {
	if _, rest, ok := strings.Cut(s, "\n\n"); ok {
		s = rest
	}
	return strings.TrimRight(s, "\n")
}

// goroutineKey is "top function ← function of the go statement":
// "example.com/app.worker ← example.com/app.StartPool".
func goroutineKey(g leak.Goroutine) string {
	top := "?"
	for _, f := range g.Stack {
		if !stack.IsRuntime(f.Func) {
			top = f.Func
			break
		}
	}
	if top == "?" && len(g.Stack) > 0 {
		top = g.Stack[0].Func
	}
	if len(g.Origin) > 0 {
		return top + " ← " + g.Origin[0].Func
	}
	return top
}

// fdKey is "kind ← first function outside the standard library that
// opened it": "file ← example.com/app.OpenConfig".
func fdKey(fd leak.FD) string {
	kind := fd.Kind
	if s := fd.Socket; s != nil {
		// "tcp4 (MPTCP)" is "tcp4": whether a listener is multipath
		// depends on the kernel, not on the code.
		kind, _, _ = strings.Cut(s.Name, " (")
		if s.Listening {
			kind += " listener"
		}
	}
	frames := fd.Opened
	if frames == nil && len(fd.OpenedAt) > 0 {
		frames = fd.OpenedAt[0]
	}
	for _, f := range frames {
		if !standard(f.Func) {
			return kind + " ← " + f.Func
		}
	}
	if len(frames) > 0 {
		return kind + " ← " + frames[len(frames)-1].Func
	}
	return kind + " ← (no creation stack)"
}

// standard reports whether the function fn names belongs to the standard
// library: the first element of its import path has no dot.
func standard(fn string) bool {
	first, _, slash := strings.Cut(fn, "/")
	return !slash || !strings.Contains(first, ".")
}
