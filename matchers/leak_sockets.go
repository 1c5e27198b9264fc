package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/internal/probes"
)

// LeakSockets succeeds when the block leaves sockets open: ones it opened,
// on its own goroutine or through goroutines it started, that are still open
// after it returned and the settle window (fds.Within, default 1s) passed.
// Use it with NotTo. The failure message describes each socket (protocol,
// addresses, TCP state, the other end when it is in this process) and the
// stack that opened it, down to the block's own line. Sockets open before
// the block ran are never counted.
func LeakSockets(opts ...fds.Option) types.GomegaMatcher {
	return leakFDs("LeakSockets", "sockets", probeFind("sockets", opts))
}

// LeakFileDescriptors is LeakSockets for every kind of file descriptor:
// sockets, files, directories, pipes, eventfds, epoll instances and other
// anonymous inodes.
func LeakFileDescriptors(opts ...fds.Option) types.GomegaMatcher {
	return leakFDs("LeakFileDescriptors", "file descriptors", probeFind("descriptors", opts))
}

func leakFDs(name, what string, find func(func()) (probes.Report, error)) types.GomegaMatcher {
	return &probeMatcher[*fds.Report]{
		name: name, verb: "leak " + what, find: find,
		none: func(r *fds.Report) string {
			return "it left none open (settle window " + r.Within.String() + ")"
		},
	}
}
