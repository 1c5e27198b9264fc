package leak

import (
	"fmt"

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
// go statements started it: no IDs, states or lines.
func (g *Goroutine) key() string {
	top := "(unknown)"
	for _, f := range g.Stack {
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
