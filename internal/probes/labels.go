package probes

import (
	"bytes"
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
	var pairs []string
	if readLabelsDirectly() {
		pairs = labelsOfCurrent()
	} else {
		pairs = labelsFromProfile()
	}
	if len(pairs) == 0 {
		return context.Background()
	}
	return pprof.WithLabels(context.Background(), pprof.Labels(pairs...))
}

// labelsOfCurrent reads the calling goroutine's label set through the
// mirror of runtime/pprof's label map (stack.CurrentLabels), which
// readLabelsDirectly checks before it is trusted.
func labelsOfCurrent() []string { return stack.CurrentLabels() }

// readLabelsDirectly reports whether labelsOfCurrent reads what
// pprof.SetGoroutineLabels set, checked once on a goroutine of its own.
var readLabelsDirectly = sync.OnceValue(func() bool {
	ok := make(chan bool)
	go func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("residue-a", "1", "residue-b", "2")))
		got := labelsOfCurrent()
		ok <- len(got) == 4 && got[0] == "residue-a" && got[1] == "1" && got[2] == "residue-b" && got[3] == "2"
	}()
	return <-ok
})

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
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	for _, g := range stack.ParseProfile(buf.Bytes()) {
		for _, f := range g.Frames {
			if f.Func == labelsFromProfileFunc {
				return stack.ParseLabels(g.Labels)
			}
		}
	}
	return nil
}

const labelsFromProfileFunc = "github.com/residue-go/residue/internal/probes.labelsFromProfile"
