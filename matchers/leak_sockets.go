package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/leak"
)

// LeakSockets succeeds when the block leaves sockets open: ones it opened,
// on its own goroutine or through goroutines it started, that are still open
// after it returned and the settle window (leak.Within, default 1s) passed.
// Use it with NotTo. The failure message describes each socket (protocol,
// addresses, TCP state, the other end when it is in this process) and the
// stack that opened it, down to the block's own line. Sockets open before
// the block ran are never counted.
func LeakSockets(opts ...leak.Option) types.GomegaMatcher {
	return &leakFDsMatcher{name: "LeakSockets", what: "sockets", sockets: true, opts: opts}
}

// LeakFileDescriptors is LeakSockets for every kind of file descriptor:
// sockets, files, directories, pipes, eventfds, epoll instances and other
// anonymous inodes.
func LeakFileDescriptors(opts ...leak.Option) types.GomegaMatcher {
	return &leakFDsMatcher{name: "LeakFileDescriptors", what: "file descriptors", opts: opts}
}

type leakFDsMatcher struct {
	name, what string
	sockets    bool
	opts       []leak.Option
	report     *leak.FDReport
}

func (m *leakFDsMatcher) Match(actual any) (bool, error) {
	p := leak.NewFDProbe(m.opts...)
	if m.sockets {
		p = leak.NewSocketProbe(m.opts...)
	}
	if err := runBlock(m.name, actual, p); err != nil {
		return false, err
	}
	m.report = p.Report()
	return m.report.Leaked(), nil
}

func (m *leakFDsMatcher) FailureMessage(any) string {
	return "Expected the block to leak " + m.what + ", but it left none open (settle window " + m.report.Within.String() + ")"
}

func (m *leakFDsMatcher) NegatedFailureMessage(any) string {
	return "Expected the block not to leak " + m.what + ".\n" + m.report.String()
}
