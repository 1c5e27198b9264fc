package fds

import (
	"errors"
	"io"

	"github.com/residue-go/residue/internal/probes"
)

// FindingsOf gives the external tests what the combined checks read of r.
func FindingsOf(r *Report) []probes.Finding { return (*section)(r).Findings() }

// FindSockets is what the LeakSockets matcher runs: the probe of sockets
// only.
func FindSockets(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(socketKind, block, opts))
}

// SummaryOf is the one-line description of fd in findings and messages.
func SummaryOf(fd *FD) string { return fd.summary() }

// QueuedOwners reads a heap dump for the descriptor numbers of want owned
// by an os.File or netFD whose finalizer is queued.
func QueuedOwners(r io.Reader, want ...int) (map[int]bool, error) {
	owners, ok := descriptorOwners()
	if !ok {
		return nil, errors.New("descriptor owners not found")
	}
	w := map[int]bool{}
	for _, n := range want {
		w[n] = true
	}
	return queuedOwners(r, owners, w)
}

// CanDumpHeap reports whether the probe looks for dropped descriptors in a
// heap dump on this runtime.
var CanDumpHeap = canDumpHeap
