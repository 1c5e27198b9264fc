package globals

import (
	"fmt"

	"github.com/residue-go/residue/internal/probes"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }

func (r *section) Title() string { return "Global state" }

// Findings lists one finding per change, keyed by its path.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	out := make([]probes.Finding, 0, len(r.Changes))
	for _, c := range r.Changes {
		k := c.Path
		if c.Key != "" {
			k += "[" + c.Key + "]"
		}
		out = append(out, probes.Finding{Key: k, Count: 1, Summary: c.String()})
	}
	return out
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "globals changed", Value: int64(len(r.Changes))}}
}
