package files

import (
	"path/filepath"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// Option configures the file probe (LeaveFiles, Find). Make one with the
// functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "files"

type config struct {
	within  time.Duration
	ignores []string // globs on absolute paths
}

func newConfig(opts []Option) (config, error) {
	return probes.Configure(config{within: probes.DefaultWithin}, opts)
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "files"}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's files to be removed before they are reported. The default is
// 1s; 0 checks once, right after the block returns. A negative
// window is an error.
func Within(d time.Duration) Option {
	return option.Within(d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringPath ignores created files and directories whose absolute path
// matches glob in the syntax of path/filepath.Match, as in
// IgnoringPath(filepath.Join(os.TempDir(), "cache-*")), and everything
// inside such directories. A malformed glob is an error.
func IgnoringPath(glob string) Option {
	return option.Glob("IgnoringPath", glob, "path", func(c *config) { c.ignores = append(c.ignores, glob) })
}

func (c *config) ignored(path string) bool {
	for _, g := range c.ignores {
		for p := path; ; p = filepath.Dir(p) {
			if ok, _ := filepath.Match(g, p); ok {
				return true
			}
			if p == filepath.Dir(p) {
				break
			}
		}
	}
	return false
}
