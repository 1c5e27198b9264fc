package probes

import (
	"context"
	"runtime/pprof"
	"sync"

	"github.com/residue-go/residue/internal/stack"
)

// inheritedLabels returns a context carrying the calling goroutine's pprof
// labels: a run started inside another run's block, on any goroutine that
// block started, keeps the outer run's label (and the user's own labels), so
// the outer run still sees what the inner block leaves.
func inheritedLabels() context.Context {
	pairs, ok := stack.CurrentLabels()
	if !ok {
		pairs = labelsFromProfile()
	}
	if len(pairs) == 0 {
		return context.Background()
	}
	return pprof.WithLabels(context.Background(), pprof.Labels(pairs...))
}

// labelsMu makes the calling goroutine the only one inside
// labelsFromProfile, so that its group in the goroutine profile is its own.
var labelsMu sync.Mutex

// labelsFromProfile reads the calling goroutine's labels from the goroutine
// profile, where it is the one goroutine with this function on its stack:
// slow, for a runtime whose label layout is not the one expected.
//
//go:noinline
func labelsFromProfile() []string {
	labelsMu.Lock()
	defer labelsMu.Unlock()
	for _, g := range stack.Groups("") {
		for _, f := range g.Frames {
			if f.Func == labelsFromProfileFunc {
				return stack.ParseLabels(g.Labels)
			}
		}
	}
	return nil
}

const labelsFromProfileFunc = "github.com/residue-go/residue/internal/probes.labelsFromProfile"
