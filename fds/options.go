package fds

import (
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// defaultWithin is the default settle window: how long the probe waits for
// the block's descriptors to be closed before it reports them.
const defaultWithin = time.Second

// Option configures the descriptor probe (LeakSockets, LeakFileDescriptors,
// Find). Make one with the functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "descriptors"

type config struct {
	within        time.Duration
	ignores       []fdIgnore
	allowIdleHTTP bool
}

func newConfig(opts []Option) (config, error) {
	c := config{within: defaultWithin}
	return c, probes.Configure(&c, opts)
}

func option(desc string, apply func(*config) error) Option {
	return probes.NewSetting(name, "fds."+desc, apply)
}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's descriptors to be closed before they are reported. The
// default is 1s; 0 checks once, right after the block returns.
// A negative window is an error.
func Within(d time.Duration) Option {
	return probes.WithinSetting(name, "fds", d, func(c *config, d time.Duration) { c.within = d })
}

type fdIgnore struct {
	desc  string
	match func(*FD) bool
}

func addIgnore(desc string, match func(*FD) bool) Option {
	return option(desc, func(c *config) error {
		c.ignores = append(c.ignores, fdIgnore{desc, match})
		return nil
	})
}

// IgnoringPath ignores files, and unix sockets bound or connected to a path,
// whose path matches glob in the syntax of path/filepath.Match, as in
// IgnoringPath("/tmp/cache-*.db"). Abstract unix socket names start with "@".
// A malformed glob is an error.
func IgnoringPath(glob string) Option {
	desc := "IgnoringPath(" + strconv.Quote(glob) + ")"
	if _, err := filepath.Match(glob, ""); err != nil || glob == "" {
		return option(desc, func(*config) error {
			return fmt.Errorf("not a path pattern of path/filepath.Match")
		})
	}
	return addIgnore(desc, func(fd *FD) bool {
		for _, p := range fd.paths() {
			if ok, _ := filepath.Match(glob, p); ok {
				return true
			}
		}
		return false
	})
}

// IgnoringIdleHTTPConns allows connections that an http.Transport keeps in
// its pool of idle keep-alive connections: the block read and closed every
// response body, and the transport kept the connection for the next request.
// Without it such connections are reported, with the fix named. A connection
// whose response body was never closed is not idle and is still reported.
func IgnoringIdleHTTPConns() Option {
	return option("IgnoringIdleHTTPConns()", func(c *config) error {
		c.allowIdleHTTP = true
		return nil
	})
}

func (c *config) ignored(fd *FD) bool {
	return (c.allowIdleHTTP && fd.IdleHTTP) || c.ignoredAlways(fd)
}

// ignoredAlways reports whether fd is ignored by what it is, whoever opened
// it.
func (c *config) ignoredAlways(fd *FD) bool {
	for _, ig := range c.ignores {
		if ig.match(fd) {
			return true
		}
	}
	return false
}
