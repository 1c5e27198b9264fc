package combined

import (
	"errors"
	"fmt"
	"os"
	"sync"

	_ "github.com/residue-go/residue/globals" // registers "globals"
	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/probes"
)

// optionalGlobals runs the globals probe of a combined check, or, when the
// binary has no debug info and RESIDUE_REQUIRE_GLOBALS is not 1, stands aside.
type optionalGlobals struct {
	probes.Probe
	missing string // why the probe stood aside; empty when it ran
}

func (g *optionalGlobals) Before(r *probes.Run) error {
	g.missing = ""
	err := g.Probe.Before(r)
	if os.Getenv(env.RequireGlobals) == "1" {
		return err
	}
	switch {
	case errors.Is(err, env.ErrNoDebugInfo):
		g.missing = uncheckedText
	case errors.Is(err, env.ErrWordSize):
		g.missing = "global state was not checked: " + err.Error() + "; " +
			"set " + env.RequireGlobals + "=1 to make this an error"
	default:
		return err
	}
	warnOnce.Do(func() { fmt.Fprintf(os.Stderr, "residue: %s\n", g.missing) })
	return nil
}

func (g *optionalGlobals) After(r *probes.Run) error {
	if g.missing != "" {
		return nil
	}
	return g.Probe.After(r)
}

func (g *optionalGlobals) Report() probes.Report {
	if g.missing != "" {
		return unchecked(g.missing)
	}
	return g.Probe.Report()
}

var warnOnce sync.Once

const uncheckedText = "global state was not checked: this test binary has no debug info, " +
	"which go test strips unless run with -ldflags=-w=0 (ginkgo --ldflags=-w=0); " +
	"set " + env.RequireGlobals + "=1 to make this an error"

// unchecked is the report of a globals probe that stood aside: why.
type unchecked string

func (unchecked) Title() string              { return "Global state" }
func (unchecked) Findings() []probes.Finding { return nil }
func (unchecked) Counts() []probes.Count     { return nil }
func (u unchecked) Value() fmt.Stringer      { return u }
func (u unchecked) String() string           { return string(u) }
