package procs

import (
	"path/filepath"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// Option configures the process probe (LeakProcesses, Find). Make one with
// the functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "processes"

type config struct {
	within  time.Duration
	ignores []string // globs on the command's base name
}

func newConfig(opts []Option) (config, error) {
	return probes.Configure(config{within: probes.DefaultWithin}, opts)
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "procs"}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's child processes to exit and be waited for before they are
// reported. The default is 1s; 0 checks once, right after the
// block returns. A negative window is an error.
func Within(d time.Duration) Option {
	return option.Within(d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringCommand ignores child processes whose program's base name matches
// glob in the syntax of path/filepath.Match, as in IgnoringCommand("redis-*"):
// a server the block starts on purpose and that the test stops later. A
// malformed glob is an error.
func IgnoringCommand(glob string) Option {
	return option.Glob("IgnoringCommand", glob, "name", func(c *config) { c.ignores = append(c.ignores, glob) })
}

func (c *config) ignored(p *Process) bool {
	for _, g := range c.ignores {
		if ok, _ := filepath.Match(g, p.program()); ok {
			return true
		}
	}
	return false
}
