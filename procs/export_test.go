package procs

import "github.com/residue-go/residue/internal/probes"

// FindingsOf gives the external tests what the combined checks read of r.
func FindingsOf(r *Report) []probes.Finding { return (*section)(r).Findings() }
