package fds

import (
	"os"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/origin"
	"github.com/residue-go/residue/internal/probes"
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
	Opened []probes.Frame
	// OpenedAt lists the possible creation stacks when several call sites
	// opened descriptors of this kind and it cannot be told which one this
	// is; Opened is then nil.
	OpenedAt [][]probes.Frame
	// StartedAt is set when a goroutine the block started opened the
	// descriptor: the stack, innermost first, from the go statement that
	// started it down to the block's own frame.
	StartedAt []probes.Frame
	// By says how the descriptor is known to be the block's: "block"
	// (opened on the block's goroutine, or for a run adopted by a test, on
	// the test's goroutine or a subtest's), "goroutine" (by a goroutine the
	// block started), "listener" (accepted by a listener the block opened)
	// or "alone" (new while the block ran, no creation stack ties it to
	// anyone, and no other probed block ran); empty for descriptors that
	// are not the block's (Report.Others).
	By string
	// AcceptedBy is the fd of the listener that accepted this connection,
	// when that listener is still open; else -1.
	AcceptedBy int
	// OneOf is set when other probed blocks running at the same time opened
	// descriptors of the same kind: the block's descriptor is one of these
	// numbers, and residue cannot tell which.
	OneOf []int
	// Dropped is set when nothing in the program can reach the descriptor's
	// os.File or net.Conn any more: it was dropped without Close, and only
	// its finalizer, which a later GC runs, would close it. Such a
	// descriptor is reported without waiting out the settle window. It is
	// known only where the binary has debug info (go test -ldflags=-w=0, or
	// residue test) on the Go releases the probe knows the runtime of.
	Dropped bool
	// HTTPTransport is set for a connection dialed by an http.Transport;
	// IdleHTTP when the transport keeps it as an idle keep-alive connection.
	HTTPTransport, IdleHTTP bool

	dev, ino uint64
	mode     uint32
	adopted  bool // opened in a run a test adopted: "the test", not "the block"
	// droppedBy names the Go object a dropped descriptor's finalizer
	// belongs to: "net.Conn" or "*os.File".
	droppedBy string
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
	// Held is false when the finalizer queue was let go while the block ran
	// (it waited for finalizers of its own), so that a GC could have closed
	// a descriptor the block dropped without closing it.
	Held   bool
	Within time.Duration // the settle window
	Waited time.Duration // how long the probe waited after the block returned
	// Stilled is set when the window ended early: nothing in the process
	// could run before its end, so what is listed would still be open.
	Stilled bool

	// stacksStopped: the recording of allocation stacks stopped while
	// the block ran (memprof.StackBudget).
	stacksStopped bool

	peers map[int]peer // other descriptors named as peers, by number
}

// probe finds the file descriptors a block opened that are still open once
// it has returned and the settle window has passed. It implements probes.Probe.
//
// Once a GC cycle completes during the run it holds the runtime's finalizer
// queue (see finalizers.go), so that an os.File or net.Conn the block dropped
// without closing is reported every time instead of only when no GC happened
// to close it; and it records every allocation (runtime.MemProfileRate = 1),
// which gives the stack that created each descriptor. A run that leaves
// nothing costs two reads of the descriptor table and forces no GC.
type probe struct {
	cfg         config
	socketsOnly bool
	report      *Report

	before    []fdEntry
	baseline  memprof.Objects
	hold      *holdTicket
	span      *origin.Span
	beforeErr error
}

// kind registers the probe with the combined checks.
var kind = probes.Register(probes.NewKind(name, newProbe))

// newProbe returns a probe of every kind of file descriptor. An invalid
// option is an error naming it.
func newProbe(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg}, err
}

// socketKind is the probe of sockets only, for the LeakSockets matcher;
// the combined checks run kind.
var socketKind = probes.Register(probes.NewKind("sockets", func(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg, socketsOnly: true}, err
}))

// Report returns what the last run left (a *Report), or nil before a run.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.report)) }

// Find runs block once and reports the file descriptors of every kind it
// left open. The error is set when the block panicked or called
// runtime.Goexit, or when the descriptor table could not be read.
func Find(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(kind, block, opts))
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
func (p *probe) Before(r *probes.Run) error {
	p.report = nil
	primeNetpoller()
	p.hold = joinHold(r)
	p.span = runs.Begin(r)
	// Published counts, without a GC: allocations since the last cycle
	// that matter, still in use under the run's own marker, can only come
	// from an earlier run with the same marker, and every run that reports
	// descriptors flushes the profile (runHeapRecords) before it ends.
	p.baseline = memprof.PublishedObjects()
	p.before, p.beforeErr = snapshot()
	r.RecordAllocations()
	return nil
}

// Entered implements probes.Bracket: the block's looks at every goroutine
// come after it.
func (p *probe) Entered(*probes.Run) { p.hold.entered() }

// Returned implements probes.Bracket: the block can no longer be waiting
// for a finalizer, and the sentinel need not tick for it.
func (p *probe) Returned(*probes.Run) { p.hold.returned() }

// Paused implements probes.Pauser: a paused block waits for other blocks,
// not for a finalizer, and the sentinel need not tick for it.
func (p *probe) Paused(*probes.Run) { p.hold.pause(true) }

// Resumed implements probes.Pauser.
func (p *probe) Resumed(*probes.Run) { p.hold.pause(false) }

// Ended implements probes.Bracket: the run's part in the hold of the
// finalizer queue lasts until every probe's window has ended, so that the
// sentinel stays calm through them all.
func (p *probe) Ended(*probes.Run) {
	held := p.hold.leave()
	if p.report == nil {
		return
	}
	p.report.Held = held
	if len(p.report.FDs) > 0 || len(p.report.Others) > 0 {
		rehold()
	}
}

// quietFor is how long, within the settle window, the probe polls the
// descriptor table alone before it attributes what is still new (which runs
// GCs): most descriptors closed as the block returns are gone by then.
//
// Attributing runs two GC cycles to publish the memory profile, the first
// of which may start before the quiet period ends, once cycleFrom has
// passed: it takes about as long as the rest of the period (2 ms in a
// test binary with a small heap), and descriptors still open after it are
// most often left. The pair then ends one cycle sooner; descriptors that
// close meanwhile cost that cycle instead of a sleep. A descriptor first
// seen after the first cycle began needs the whole pair again (its
// allocation may not be published). The period ends a little after
// cycleFrom: an idle process sleeps a millisecond at the least, and a
// period of 5 ms had the polls that followed the first cycle sleep to its
// end.
const (
	quietFor  = 3 * time.Millisecond
	cycleFrom = 2 * time.Millisecond
)

// After implements probes.Probe: it settles, attributes and describes what
// is left, and records the report. It waits only while descriptors that
// would be reported are open.
func (p *probe) After(r *probes.Run) error {
	defer p.span.End()
	if p.beforeErr != nil {
		return p.beforeErr
	}
	s := settling{p: p, r: r, known: map[fdEntry]*candidate{}, skip: map[fdEntry]bool{}, t: &netTables{}}
	stilled := r.Settle(p.cfg.within, s.check)
	rep, err := s.report()
	if err != nil {
		return err
	}
	rep.Stilled = stilled && len(rep.FDs) > 0
	rep.Waited = time.Since(r.Returned())
	rep.stacksStopped = r.StacksStopped()
	p.report = rep // Held is set when the run ends
	return nil
}

// settling is the state of one After while the window runs.
type settling struct {
	p     *probe
	r     *probes.Run
	open  []fdEntry              // new descriptors at the last look
	known map[fdEntry]*candidate // attributed so far
	skip  map[fdEntry]bool       // ignored by number or path
	t     *netTables
	err   error
	// held is what the last attribution saw, when opened descriptors were
	// new (see provedDropped).
	held   holders
	opened int
	// cycled holds the new descriptors open when the first of the GC
	// cycles that publish the memory profile ran in the quiet period;
	// nil when none ran.
	cycled map[fdEntry]bool
}

// check looks at the descriptor table once; it is done when nothing that
// would be reported is open.
func (s *settling) check(attempt int, last bool) bool {
	after, err := snapshot()
	if err != nil {
		s.err = err
		return true
	}
	s.open = s.p.newEntries(after)
	if len(s.open) == 0 {
		return true
	}
	if quiet := s.r.Returned().Add(quietFor); !last && time.Now().Before(quiet) {
		if s.cycled == nil && time.Since(s.r.Returned()) >= cycleFrom {
			s.cycled = map[fdEntry]bool{}
			for _, e := range s.open {
				s.cycled[e] = true
			}
			runtime.GC()
		}
		s.r.LookBy(quiet)
		return false
	}
	// Attribute again whenever the new descriptors are not those last
	// attributed: one that closed may have been the one a group's count
	// was given to.
	var consider []fdEntry
	changed := false
	for _, e := range s.open {
		if s.skip[e] {
			continue
		}
		if s.known[e] == nil {
			if d := describe(e, s.t); s.p.cfg.ignoredAlways(&d) {
				s.skip[e] = true
				continue
			}
			changed = true
		}
		consider = append(consider, e)
	}
	changed = changed || len(consider) != len(s.known)
	attributed := false
	if changed && len(consider) > 0 {
		attributed = true
		cycled := s.cycled != nil && !slices.ContainsFunc(consider, func(e fdEntry) bool { return !s.cycled[e] })
		mine, others, held, err := s.p.attribute(s.r, consider, cycled)
		if err != nil {
			s.err = err
			return true
		}
		s.held, s.opened = held, len(s.open)
		s.known = map[fdEntry]*candidate{}
		for _, c := range append(mine, others...) {
			s.known[c.fd.entry()] = c
		}
	}
	s.refreshIdleHTTP()
	var left []*candidate
	for _, e := range s.open {
		if c := s.known[e]; c != nil && c.mine && !s.p.cfg.ignored(c.fd) {
			left = append(left, c)
		}
	}
	return len(left) == 0 || s.provedDropped(left, attempt, attributed)
}

// refreshIdleHTTP updates whether the block's http.Transport connections
// are idle, when that decides whether they are reported.
func (s *settling) refreshIdleHTTP() {
	if !s.p.cfg.allowIdleHTTP {
		return
	}
	var conns []*FD
	for _, e := range s.open {
		if c := s.known[e]; c != nil && c.mine && c.fd.HTTPTransport {
			conns = append(conns, c.fd)
		}
	}
	if len(conns) == 0 {
		return
	}
	gs := findRunGoroutines(s.r)
	for _, fd := range conns {
		fd.IdleHTTP = gs.httpIdle > 0 && gs.httpBusy == 0
	}
}

// report describes what is still open once the window has passed.
func (s *settling) report() (*Report, error) {
	if s.err != nil {
		return nil, s.err
	}
	rep := &Report{SocketsOnly: s.p.socketsOnly, Within: s.p.cfg.within}
	var open []*candidate
	for _, e := range s.open {
		c := s.known[e]
		if c == nil || s.p.cfg.ignored(c.fd) {
			continue
		}
		d := describe(e, s.t) // as it is now: a TCP state may have changed
		c.fd.Kind, c.fd.Path, c.fd.Socket = d.Kind, d.Path, d.Socket
		open = append(open, c)
		if c.mine {
			rep.FDs = append(rep.FDs, *c.fd)
		} else {
			rep.Others = append(rep.Others, *c.fd)
		}
	}
	if len(rep.FDs) > 0 {
		rep.peers = findPeers(rep.FDs, open, s.t)
		// An unattributed descriptor already shown as a reported one's peer
		// is not listed again.
		rep.Others = slices.DeleteFunc(rep.Others, func(o FD) bool { _, ok := rep.peers[o.Num]; return ok })
	}
	return rep, nil
}

// newEntries returns the entries of after that were not open before, in the
// kinds the probe looks at, and not ignored by number.
func (p *probe) newEntries(after []fdEntry) []fdEntry {
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

// runs are the descriptor probes' runs under way (of every descriptor and of
// sockets only): while a run is alone, a new descriptor that no creation
// stack ties to anyone can only be its block's (or an unprobed concurrent
// test's).
var runs origin.Runs
