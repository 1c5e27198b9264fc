package leak

import (
	"path/filepath"
	"strconv"
)

type fdIgnore struct {
	desc  string
	match func(*FD) bool
}

func addFDIgnore(desc string, match func(*FD) bool) Option {
	return func(c *config) { c.fdIgnores = append(c.fdIgnores, fdIgnore{desc, match}) }
}

// IgnoringFD ignores file descriptor n: one the block may leave open on
// purpose, such as a descriptor it is handed and expected to keep.
func IgnoringFD(n int) Option {
	return addFDIgnore("fd "+strconv.Itoa(n), func(fd *FD) bool { return fd.Num == n })
}

// IgnoringPath ignores files, and unix sockets bound or connected to a path,
// whose path matches glob in the syntax of path/filepath.Match, as in
// IgnoringPath("/tmp/cache-*.db"). Abstract unix socket names start with "@".
func IgnoringPath(glob string) Option {
	return addFDIgnore("path "+glob, func(fd *FD) bool {
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
	return func(c *config) { c.allowIdleHTTP = true }
}

func (c *config) fdIgnored(fd *FD) bool {
	if c.allowIdleHTTP && fd.IdleHTTP {
		return true
	}
	for _, ig := range c.fdIgnores {
		if ig.match(fd) {
			return true
		}
	}
	return false
}
