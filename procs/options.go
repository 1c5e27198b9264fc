package procs

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// defaultWithin is the default settle window: how long the probe waits for
// the block's child processes to exit and be waited for before it reports
// them.
const defaultWithin = time.Second

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
	c := config{within: defaultWithin}
	return c, probes.Configure(&c, opts)
}

func option(desc string, apply func(*config) error) Option {
	return probes.NewSetting(name, "procs."+desc, apply)
}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's child processes to exit and be waited for before they are
// reported. The default is 1s; 0 checks once, right after the
// block returns. A negative window is an error.
func Within(d time.Duration) Option {
	return probes.WithinSetting(name, "procs", d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringCommand ignores child processes whose program's base name matches
// glob in the syntax of path/filepath.Match, as in IgnoringCommand("redis-*"):
// a server the block starts on purpose and that the test stops later. A
// malformed glob is an error.
func IgnoringCommand(glob string) Option {
	return option("IgnoringCommand("+strconv.Quote(glob)+")", func(c *config) error {
		if _, err := filepath.Match(glob, ""); err != nil || glob == "" {
			return fmt.Errorf("not a name pattern of path/filepath.Match")
		}
		c.ignores = append(c.ignores, glob)
		return nil
	})
}

func (c *config) ignored(p *Process) bool {
	for _, g := range c.ignores {
		if ok, _ := filepath.Match(g, p.program()); ok {
			return true
		}
	}
	return false
}
