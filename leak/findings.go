package leak

import (
	"fmt"
	"slices"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }
func (r *section) Title() string       { return "Goroutines" }

// Findings lists one finding per group of goroutines with the same stack
// and origin.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	key := func(i int) string { return r.Goroutines[i].key() }
	return probes.GroupFindings(len(r.Goroutines), key, func(i int) string { return "goroutine " + key(i) })
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "goroutines", Value: int64(len(r.Goroutines))}}
}

// key names the goroutine by the function it is in and the functions whose
// go statements started it: no IDs, states or lines. A goroutine ready to
// run at the window's last look is looked at again until it waits
// (restingStacks). For one still found running or runnable, which is
// somewhere else at every look (gin's
// TestRaceContextCopy leaves two spinning, keyed by math/rand.Int in one
// audit and internal/sync.(*Mutex).Lock in the next), the function it is in
// is the one it started in: a key that changes from run to run would make
// a baseline entry fail to match.
func (g *Goroutine) key() string {
	top := "(unknown)"
	frames := slices.All(g.Stack)
	if g.State == "running" || g.State == "runnable" {
		frames = slices.Backward(g.Stack)
	}
	for _, f := range frames {
		if !stack.IsRuntime(f.Func) {
			top = f.Func
			break
		}
	}
	k := top
	for i, c := range g.Origin {
		if i > 0 && c.Goroutine == 0 {
			break // known from the memory profile, which may not always tell
		}
		k += " created by " + c.Func
	}
	return k
}
