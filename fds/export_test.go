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

// SentinelHolds reports whether a sentinel holds the finalizer goroutine.
func SentinelHolds() bool {
	finalizers.Lock()
	defer finalizers.Unlock()
	return finalizers.release != nil
}

// SentinelUnlisted reports whether the holding sentinel took the finalizer
// goroutine out of the goroutines the runtime lists.
func SentinelUnlisted() bool {
	finalizers.Lock()
	defer finalizers.Unlock()
	return finalizers.release != nil && finalizers.unlisted
}

// CanUnlist reports whether runtime.fingStatus was found.
func CanUnlist() bool { return fingStatus() != nil }
