package leak

import (
	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/probes"
)

// Title implements probes.Report.
func (r *Report) Title() string { return "Goroutines" }

// Findings implements probes.Report: one finding per group of goroutines
// with the same stack and origin.
func (r *Report) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	var out []probes.Finding
	index := map[string]int{}
	for i := range r.Goroutines {
		g := &r.Goroutines[i]
		k := g.key()
		if j, ok := index[k]; ok {
			out[j].Count++
			continue
		}
		index[k] = len(out)
		out = append(out, probes.Finding{Key: k, Count: 1, Summary: "goroutine " + k})
	}
	return out
}

// Figures implements probes.Report.
func (r *Report) Counts() []probes.Count {
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
	for _, c := range g.Origin {
		k += " created by " + c.Func
	}
	return k
}
