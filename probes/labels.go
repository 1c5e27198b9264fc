package probes

import (
	"bytes"
	"context"
	"runtime/pprof"
	"sync"

	"github.com/residue-go/residue/internal/stack"
)

// labelsMu makes the calling goroutine the only one inside ownLabels, so
// that its group in the goroutine profile is its own.
var labelsMu sync.Mutex

// inheritedLabels returns a context carrying the calling goroutine's pprof
// labels: a run started inside another run's block, on any goroutine that
// block started, keeps the outer run's label (and the user's own labels), so
// the outer run still sees what the inner block leaves.
func inheritedLabels() context.Context {
	labelsMu.Lock()
	defer labelsMu.Unlock()
	pairs := ownLabels()
	if len(pairs) == 0 {
		return context.Background()
	}
	return pprof.WithLabels(context.Background(), pprof.Labels(pairs...))
}

// ownLabels reads the calling goroutine's labels from the goroutine
// profile, where it is the one goroutine with this function on its stack.
// The runtime offers no other way to read them.
//
//go:noinline
func ownLabels() []string {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	for _, g := range stack.ParseProfile(buf.Bytes()) {
		for _, f := range g.Frames {
			if f.Func == ownLabelsFunc {
				return stack.ParseLabels(g.Labels)
			}
		}
	}
	return nil
}

const ownLabelsFunc = "github.com/residue-go/residue/probes.ownLabels"
