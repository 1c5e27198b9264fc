package fds

import (
	"os"
	"slices"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/probes"
)

// FD is a file descriptor the block opened and left open.
type FD struct {
	Num int
	// Kind is what the descriptor refers to: "socket", "file", "directory",
	// "device", "pipe", "fifo", "eventfd", "epoll", "kqueue", "anon inode" or
	// "unknown".
	Kind string
	// Path is the file's path for files, directories, devices and fifos, or
	// the kernel's name for anonymous inodes ("anon_inode:[timerfd]").
	Path string
	// Socket describes a socket; nil for other kinds.
	Socket *Socket
	// Opened is the stack that created the descriptor's os.File or net.Conn,
	// innermost first, down to the block's own frame when the block opened it
	// on its own goroutine. Nil when no stack was recorded (a raw system
	// call, or C code).
	Opened []Frame
	// OpenedAt lists the possible creation stacks when several call sites
	// opened descriptors of this kind and it cannot be told which one this
	// is; Opened is then nil.
	OpenedAt [][]Frame
	// StartedAt is set when a goroutine the block started opened the
	// descriptor: the stack, innermost first, from the go statement that
	// started it down to the block's own frame.
	StartedAt []Frame
	// By says how the descriptor is known to be the block's: "block" (opened
	// on the block's goroutine), "goroutine" (opened by a goroutine the block
	// started), "listener" (accepted by a listener the block opened), or
	// "alone" (new while the block ran and no other probed block ran).
	By string
	// AcceptedBy is the fd of the listener that accepted this connection,
	// when that listener is still open; else -1.
	AcceptedBy int
	// OneOf is set when other probed blocks running at the same time opened
	// descriptors of the same kind: the block's descriptor is one of these
	// numbers, and residue cannot tell which.
	OneOf []int
	// HTTPTransport is set for a connection dialed by an http.Transport;
	// IdleHTTP when the transport keeps it as an idle keep-alive connection.
	HTTPTransport, IdleHTTP bool

	dev, ino uint64
	mode     uint32
}

// Socket describes a socket.
type Socket struct {
	// Name is the family, type and protocol in words: "tcp4", "tcp6",
	// "udp4", "udp6", "unix stream", "unix dgram", "unix seqpacket",
	// "netlink route", "raw ipv4"…
	Name string
	// Local and Peer are the socket's addresses; a unix socket's path, with
	// abstract names starting with "@". Empty when unbound or unconnected.
	Local, Peer string
	// State is the TCP state ("LISTEN", "ESTABLISHED", "CLOSE_WAIT"…);
	// "LISTEN" for any listening socket; empty when unknown.
	State string
	// Listening is set for sockets that accept connections.
	Listening bool
	// PeerFD is the descriptor of the other end when it is in this process,
	// else -1.
	PeerFD int
	// Inode is the socket's inode number.
	Inode uint64
}

// Report lists what file descriptors a block left open.
type Report struct {
	// FDs are the block's descriptors still open after the settle window.
	FDs []FD
	// Others are descriptors that appeared while the block ran and are still
	// open, but that are not the block's: their creation stacks tie them to
	// another probed block running at the same time or to goroutines that are
	// not the block's, or a listener that is not the block's accepted them.
	// They are not counted as leaks.
	Others []FD
	// SocketsOnly is set when only sockets were looked at.
	SocketsOnly bool
	// Held is false when the finalizer queue could not be held (another
	// finalizer was blocking it), so a GC could have closed a dropped fd.
	Held   bool
	Within time.Duration // the settle window
	Waited time.Duration // how long the probe waited after the block returned

	peers map[int]*FD // other descriptors named as peers, by number
}

// Leaked reports whether any descriptor was left open.
func (r *Report) Leaked() bool { return r != nil && len(r.FDs) > 0 }

// Probe finds the file descriptors a block opened that are still open once
// it has returned and the settle window has passed. It is a probes.Probe.
//
// During the run it holds the runtime's finalizer queue, so that an os.File
// or net.Conn the block dropped without closing is reported every time
// instead of only when no GC happened to close it, and it records every
// allocation (runtime.MemProfileRate = 1), which gives the stack that created
// each descriptor.
type Probe struct {
	cfg         config
	socketsOnly bool
	report      *Report

	before    []fdEntry
	baseline  map[stackKey]int64
	release   func()
	unhold    func()
	held      bool
	run       *fdRun
	beforeErr error
}

// Kind registers the probe with the combined checks.
var Kind = probes.NewKind(Name, NewProbe)

// NewProbe returns a probe of every kind of file descriptor. An invalid
// option is an error naming it.
func NewProbe(opts ...Option) (*Probe, error) {
	cfg, err := newConfig(opts)
	return &Probe{cfg: cfg}, err
}

// NewSocketProbe returns a probe of sockets only.
func NewSocketProbe(opts ...Option) (*Probe, error) {
	cfg, err := newConfig(opts)
	return &Probe{cfg: cfg, socketsOnly: true}, err
}

// Report returns what the last run left (a *Report), or nil before a run.
func (p *Probe) Report() probes.Report {
	if p.report == nil {
		return nil
	}
	return p.report
}

// Find runs block once and reports the file descriptors of every kind it
// left open. The error is set when the block panicked or called
// runtime.Goexit, or when the descriptor table could not be read.
func Find(block func(), opts ...Option) (*Report, error) {
	p, err := NewProbe(opts...)
	if err != nil {
		return nil, err
	}
	_, err = probes.Exec(block, p)
	return p.report, err
}

// FindSockets runs block once and reports the sockets it left open.
func FindSockets(block func(), opts ...Option) (*Report, error) {
	p, err := NewSocketProbe(opts...)
	if err != nil {
		return nil, err
	}
	_, err = probes.Exec(block, p)
	return p.report, err
}

// primeNetpoller makes the runtime create its netpoller descriptors (epoll
// and eventfd on Linux, kqueue on the BSDs), which it does lazily on the
// first os.Open of anything: a block that happens to be first has not leaked
// them.
var primeNetpoller = sync.OnceFunc(func() {
	if f, err := os.Open(os.DevNull); err == nil {
		f.Close()
	}
})

// Before implements probes.Probe.
func (p *Probe) Before(*probes.Run) error {
	p.report = nil
	primeNetpoller()
	p.unhold, p.held = holdFinalizers()
	p.run = startFDRun()
	p.baseline = allocBaseline()
	p.before, p.beforeErr = snapshot()
	p.release = memprof.RecordAllocations()
	return nil
}

// After implements probes.Probe: it settles, attributes and describes what
// is left, and records the report.
func (p *Probe) After(r *probes.Run) error {
	p.release()
	defer p.unhold()
	defer p.run.end()
	if p.beforeErr != nil {
		return p.beforeErr
	}
	var fresh []fdEntry
	var err error
	probes.Settle(p.cfg.within, func(_ int, last bool) bool {
		var after []fdEntry
		if after, err = snapshot(); err != nil {
			return true
		}
		fresh = p.newEntries(after)
		return len(fresh) == 0
	})
	if err != nil {
		return err
	}
	rep := &Report{SocketsOnly: p.socketsOnly, Held: p.held, Within: p.cfg.within}
	if len(fresh) > 0 {
		p.attribute(r, fresh, rep)
	}
	rep.Waited = time.Since(r.Returned())
	p.report = rep
	return nil
}

// newEntries returns the entries of after that were not open before, in the
// kinds the probe looks at, and not ignored by number.
func (p *Probe) newEntries(after []fdEntry) []fdEntry {
	var out []fdEntry
	for _, e := range after {
		if p.socketsOnly && !e.isSocket() {
			continue
		}
		if i, ok := slices.BinarySearchFunc(p.before, e.num, func(b fdEntry, n int) int { return b.num - n }); ok && p.before[i].same(e) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// fdRun tracks which probed runs are under way at the same time: while a run
// is alone, a new descriptor that no creation stack ties to anyone can only
// be its block's (or an unprobed concurrent test's).
type fdRun struct {
	overlapped bool
}

var fdRuns struct {
	sync.Mutex
	active map[*fdRun]bool
}

func startFDRun() *fdRun {
	fdRuns.Lock()
	defer fdRuns.Unlock()
	if fdRuns.active == nil {
		fdRuns.active = map[*fdRun]bool{}
	}
	r := &fdRun{}
	for o := range fdRuns.active {
		o.overlapped, r.overlapped = true, true
	}
	fdRuns.active[r] = true
	return r
}

func (r *fdRun) end() {
	fdRuns.Lock()
	defer fdRuns.Unlock()
	delete(fdRuns.active, r)
}

func (r *fdRun) alone() bool {
	fdRuns.Lock()
	defer fdRuns.Unlock()
	return !r.overlapped
}
