package leak

import "github.com/residue-go/residue/internal/probes"

// FindingsOf gives the external tests what the combined checks read of r.
func FindingsOf(r *Report) []probes.Finding { return (*section)(r).Findings() }

// NewProbe gives the external tests a goroutine probe to run beside others.
func NewProbe(opts ...Option) (probes.Probe, error) { return newProbe(opts...) }
