package fds

import (
	"path/filepath"
	"slices"
	"time"

	"github.com/residue-go/residue/internal/probes"
)

// Option configures the descriptor probe (LeakSockets, LeakFileDescriptors,
// Find). Make one with the functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "descriptors"

type config struct {
	within        time.Duration
	ignores       []func(*FD) bool
	allowIdleHTTP bool
}

func newConfig(opts []Option) (config, error) {
	return probes.Configure(config{within: probes.DefaultWithin}, opts)
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "fds"}

// Within sets the settle window: how long to wait, polling with backoff, for
// the block's descriptors to be closed before they are reported. The
// default is 1s; 0 checks once, right after the block returns.
// A negative window is an error.
func Within(d time.Duration) Option {
	return option.Within(d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringPath ignores files, and unix sockets bound or connected to a path,
// whose path matches glob in the syntax of path/filepath.Match, as in
// IgnoringPath("/tmp/cache-*.db"). Abstract unix socket names start with "@".
// A malformed glob is an error.
func IgnoringPath(glob string) Option {
	match := func(fd *FD) bool {
		for _, p := range fd.paths() {
			if ok, _ := filepath.Match(glob, p); ok {
				return true
			}
		}
		return false
	}
	return option.Glob("IgnoringPath", glob, "path", func(c *config) { c.ignores = append(c.ignores, match) })
}

// IgnoringIdleHTTPConns allows connections that an http.Transport keeps in
// its pool of idle keep-alive connections: the block read and closed every
// response body, and the transport kept the connection for the next request.
// Without it such connections are reported, with the fix named. A connection
// whose response body was never closed is not idle and is still reported.
func IgnoringIdleHTTPConns() Option {
	return option.New("IgnoringIdleHTTPConns()", func(c *config) error {
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
	return slices.ContainsFunc(c.ignores, func(match func(*FD) bool) bool { return match(fd) })
}
