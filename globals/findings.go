package globals

import "github.com/residue-go/residue/internal/probes"

// Title implements probes.Report.
func (r *Report) Title() string { return "Global state" }

// Findings implements probes.Report: one finding per change, keyed by its
// path.
func (r *Report) Findings() []probes.Finding {
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

// Counts implements probes.Report.
func (r *Report) Counts() []probes.Count {
	return []probes.Count{{Name: "globals changed", Value: int64(len(r.Changes))}}
}
