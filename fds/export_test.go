package fds

import "github.com/residue-go/residue/internal/probes"

// FindingsOf gives the external tests what the combined checks read of r.
func FindingsOf(r *Report) []probes.Finding { return (*section)(r).Findings() }

// FindSockets is what the LeakSockets matcher runs: the probe of sockets
// only.
func FindSockets(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(socketKind, block, opts))
}

// SummaryOf is the one-line description of fd in findings and messages.
func SummaryOf(fd *FD) string { return fd.summary() }
