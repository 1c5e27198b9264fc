package files

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// defaultWithin is the default settle window: how long the probe waits for
// the block's files to be removed before it reports them.
const defaultWithin = time.Second

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
	c := config{within: defaultWithin}
	return c, probes.Configure(&c, opts)
}

func option(desc string, apply func(*config) error) Option {
	return probes.NewSetting(name, "files."+desc, apply)
}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's files to be removed before they are reported. The default is
// 1s; 0 checks once, right after the block returns. A negative
// window is an error.
func Within(d time.Duration) Option {
	return probes.WithinSetting(name, "files", d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringPath ignores created files and directories whose absolute path
// matches glob in the syntax of path/filepath.Match, as in
// IgnoringPath(filepath.Join(os.TempDir(), "cache-*")), and everything
// inside such directories. A malformed glob is an error.
func IgnoringPath(glob string) Option {
	return option("IgnoringPath("+strconv.Quote(glob)+")", func(c *config) error {
		if _, err := filepath.Match(glob, ""); err != nil || glob == "" {
			return fmt.Errorf("not a path pattern of path/filepath.Match")
		}
		c.ignores = append(c.ignores, glob)
		return nil
	})
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
