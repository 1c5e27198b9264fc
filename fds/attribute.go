package fds

import (
	"fmt"
	"slices"
	"strings"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// The ways a descriptor is known to be the block's (FD.By).
const (
	// byBlock: opened on the block's goroutine (for a run adopted by a
	// test, on the test's goroutine or a subtest's).
	byBlock = "block"
	// byGoroutine: opened by a goroutine the block started.
	byGoroutine = "goroutine"
	// byListener: accepted by a listener the block opened.
	byListener = "listener"
	// byAlone: new while the block ran, no creation stack ties it to anyone,
	// and no other probed block ran.
	byAlone = "alone"
)

// role is what kind of descriptor a creation stack makes, or a descriptor is.
type role uint8

const (
	roleOther    role = iota // os.NewFile over anything, or an unknown kind
	roleListen               // a listening socket
	roleAccepted             // a connection a listener accepted (sites only)
	roleSocket               // any other socket
	rolePipe                 // a pipe or fifo
	roleFile                 // a file, directory or device
)

// proto is the protocol of a socket, from its creation stack or its name.
type proto uint8

const (
	protoAny proto = iota // not a socket, or unknown
	protoTCP
	protoUDP
	protoUnix
)

// owner says whose block a creation stack runs through.
type owner uint8

const (
	ownedByNone  owner = iota // no run's: opened by some goroutine
	ownedByRun                // this run's (see probes.Run.Owns)
	ownedByOther              // another run's marker frame
)

// site is a place that created descriptors during the run and whose objects
// are still in use.
type site struct {
	role   role
	proto  proto
	owner  owner
	mine   bool           // the run claims it: ownedByRun, or an ownedByNone it can claim
	frames []probes.Frame // from the constructor out to the block's frame
	count  int64          // objects created during the run and still in use
	// left is what of count no group of descriptors has claimed yet
	// (decideGroup): a site of roleOther counts toward every kind, but
	// each of its objects holds one descriptor.
	left  int64
	entry string // the goroutine's entry function, for ownedByNone
	// started is, for ownedByNone, the path from the block to the go
	// statement that started the goroutine, when the run's allocations show
	// it (see runAllocations.startedFrom).
	started []probes.Frame
	shared  bool // ownedByRun through a marker frame other runs share
	adopted bool // the block is a test that adopted the run (probes.Run.Adopt)
}

// candidate is a new descriptor being attributed.
type candidate struct {
	fd      *FD
	role    role
	proto   proto
	decided bool
	mine    bool
}

// attribution decides, in phases, which new descriptors are the block's.
type attribution struct {
	run   *probes.Run
	alone bool // no other probed run overlapped this one
	cands []*candidate
	sites []*site
	gs    runGoroutines
	t     *netTables
	// acceptedByListener: a connection was decided by the listener that
	// accepted it (decideAccepted). Otherwise the accepting sites are
	// counted with the other sockets': a connection whose listener has
	// been closed since is tied to its Accept line as any socket is.
	acceptedByListener bool
}

// ownedEnd returns where a creation stack stops being the block's: the
// index of the run's marker frame (which is left out), or one past the
// function that adopted the run (which is kept; adopted is then set); ok is
// false when the stack does not run through the run's block.
func ownedEnd(frames []probes.Frame, r *probes.Run) (end int, adopted, ok bool) {
	for i, f := range frames {
		if r.Owns(f.Func) {
			if probes.IsMarker(f.Func) {
				return i, false, true
			}
			return i + 1, true, true
		}
	}
	return 0, false, false
}

// loadSites turns the heap records the run added into creation sites,
// merging the records of one constructor call (os.newFile allocates two
// objects).
func (a *attribution) loadSites(allocs *runAllocations) {
	r := a.run
	byKey := map[string]*site{}
	for _, rec := range allocs.fds {
		n := min(rec.allocs, rec.inUse)
		if n <= 0 {
			continue
		}
		c := slices.IndexFunc(rec.frames, func(f probes.Frame) bool { return f.Func == netConstructor || f.Func == osConstructor })
		if c < 0 {
			continue
		}
		outer := rec.frames[c+1:]
		s := &site{owner: ownedByNone, count: n}
		s.frames = append(s.frames, probes.Frame{Func: rec.frames[c].Func})
		var k strings.Builder
		if end, adopted, ok := ownedEnd(outer, r); ok {
			s.owner, s.adopted = ownedByRun, adopted
			// A stack through the function that adopted the run needs
			// no marker frame to be the run's.
			s.shared = adopted && !r.AdoptedAlone() || !adopted && !r.Exclusive()
			s.frames = append(s.frames, outer[:end]...)
		} else {
			for _, f := range outer {
				if probes.IsMarker(f.Func) {
					s.owner = ownedByOther
					k.WriteString(f.Func) // the other run's marker
					break
				}
				if f.Func == "runtime.goexit" {
					break
				}
				s.frames = append(s.frames, f)
				if !stack.IsRuntime(f.Func) {
					s.entry = f.Func
				}
			}
		}
		// The frames that run the user's code inside the run (Ginkgo's node
		// runner, residue's spec decorators and hooks, testing's) are not
		// the block's: its outermost frame is the user's own function.
		s.frames = stack.OwnCode(s.frames)
		s.role, s.proto = siteRole(s.frames), siteProto(s.frames)
		fmt.Fprintf(&k, "|%d|", s.owner)
		for _, f := range s.frames {
			fmt.Fprintf(&k, "%s %s:%d|", f.Func, f.File, f.Line)
		}
		if o := byKey[k.String()]; o != nil {
			o.count = max(o.count, s.count)
			continue
		}
		if s.owner == ownedByNone {
			s.started = allocs.startedFrom(rec.entry, r)
			s.adopted = len(s.started) > 0 && !probes.IsMarker(s.started[len(s.started)-1].Func) && r.Owns(s.started[len(s.started)-1].Func)
		}
		byKey[k.String()] = s
		a.sites = append(a.sites, s)
	}
	for _, s := range a.sites {
		s.left = s.count
	}
}

// errShared is returned when the run's descriptors cannot be told from
// those of other runs sharing the frame that identifies it.
var errShared = fmt.Errorf("this run's stacks cannot be told from those of another running at the same time "+
	"(parallel tests or subtests made from one function, or more than %d checks under way at once that no "+
	"function of their own tells apart), so which of the descriptors they opened are this one's cannot be told; "+
	"without t.Parallel they would be checked one at a time", probes.MaxExclusiveRuns)

// claimSites decides which sites are the block's.
func (a *attribution) claimSites() error {
	for _, s := range a.sites {
		switch s.owner {
		case ownedByRun:
			if s.shared {
				return errShared
			}
			s.mine = true
		case ownedByNone:
			// Opened by a goroutine: the block's when that goroutine (still
			// running) carries the run's label, when it dialed for an
			// http.Transport whose connection readers carry it, or, when
			// no other probed block runs, unless a goroutine that is not
			// the block's runs that function.
			s.mine = len(s.started) > 0 || a.gs.entries[s.entry] ||
				(hasFunc(s.frames, httpDial) && a.gs.httpIdle+a.gs.httpBusy > 0) ||
				(a.alone && !a.gs.foreign[s.entry])
		}
	}
	return nil
}

// decideAccepted decides the connections accepted by a listener: the
// block's when its listener is (listeners are decided first), another's
// otherwise.
func (a *attribution) decideAccepted() {
	listeners := a.processListeners()
	var accepts []*site
	for _, s := range a.sites {
		if s.role == roleAccepted {
			accepts = append(accepts, s)
		}
	}
	for _, c := range a.cands {
		s := c.fd.Socket
		if c.decided || s == nil || s.Listening || s.Peer == "" {
			continue
		}
		for _, l := range listeners {
			if sameListenAddr(l.fd.Socket.Local, s.Local) {
				c.decided, c.mine = true, l.mine
				c.fd.AcceptedBy = l.fd.Num
				a.acceptedByListener = true
				if c.mine {
					c.fd.By = byListener
					setOpened(c.fd, accepts)
				}
				break
			}
		}
	}
}

// holders is what an attribution saw that may still close or open a
// descriptor: what holds back the proof that the block's are dropped
// (provedDropped).
type holders struct {
	// owners counts the Go objects (net.netFD, os.file) made since the
	// run started that are still in use: one per descriptor unless a
	// descriptor has two (os.NewFile over a number another object holds)
	// or a closed object is still referenced.
	owners int
	// goroutines counts the block's goroutines still alive.
	goroutines int
}

// attribute decides which new descriptors are the block's, and describes
// them: the block's first, then the others.
func (p *probe) attribute(r *probes.Run, fresh []fdEntry, cycled bool) (mine, others []*candidate, held holders, err error) {
	a := &attribution{run: r, alone: p.span.Alone(), t: &netTables{}}
	for _, e := range fresh {
		fd := describe(e, a.t)
		a.cands = append(a.cands, &candidate{fd: &fd, role: fdRole(&fd), proto: fdProto(&fd)})
	}
	allocs := runHeapRecords(p.baseline, cycled)
	defer allocs.release()
	a.loadSites(&allocs)
	for _, s := range a.sites {
		held.owners += int(s.count)
	}
	a.gs = findRunGoroutines(r)
	held.goroutines = a.gs.others
	if err := a.claimSites(); err != nil {
		return nil, nil, holders{}, err
	}
	// Descriptors of no known kind first, all of them in one group (none
	// is a socket, so none has a protocol): only the sites that wrap any
	// descriptor (os.NewFile) can have made them, and what those sites
	// made is then not given to descriptors of another kind.
	a.decideGroup(roleOther, protoAny)
	for _, pr := range []proto{protoTCP, protoUnix, protoAny} {
		a.decideGroup(roleListen, pr)
	}
	a.decideAccepted()
	for _, rl := range []role{roleSocket, rolePipe, roleFile} {
		for _, pr := range []proto{protoTCP, protoUDP, protoUnix, protoAny} {
			a.decideGroup(rl, pr)
		}
	}
	for _, c := range a.cands {
		if c.mine && c.fd.Socket != nil && openedBy(c.fd, httpDial) {
			c.fd.HTTPTransport = true
			c.fd.IdleHTTP = a.gs.httpIdle > 0 && a.gs.httpBusy == 0
		}
		if c.mine {
			mine = append(mine, c)
		} else {
			others = append(others, c)
		}
	}
	return mine, others, held, nil
}

// closureParent returns the function in which a closure or go-statement
// wrapper is defined, outermost ("pkg.(*T).m" for "pkg.(*T).m.func1.2" or
// "pkg.(*T).m.gowrap1"), or "" when fn is not one.
func closureParent(fn string) string {
	out := ""
	for p := stack.Enclosing(fn); p != ""; p = stack.Enclosing(p) {
		out = p
	}
	return out
}

func hasFunc(frames []probes.Frame, names ...string) bool {
	for _, f := range frames {
		if slices.Contains(names, f.Func) {
			return true
		}
	}
	return false
}

// siteRole says what kind of descriptor a creation stack makes.
func siteRole(frames []probes.Frame) role {
	if frames[0].Func == netConstructor {
		if hasFunc(frames, "net.(*netFD).accept") {
			return roleAccepted
		}
		for _, f := range frames {
			if f.Func == "net.(*ListenConfig).Listen" || f.Func == "net.(*netFD).listenStream" ||
				strings.HasPrefix(f.Func, "net.(*sysListener).listenTCP") ||
				strings.HasPrefix(f.Func, "net.(*sysListener).listenMPTCP") ||
				f.Func == "net.(*sysListener).listenUnix" {
				return roleListen
			}
		}
		return roleSocket
	}
	switch {
	case hasFunc(frames, "os.Pipe"):
		return rolePipe
	case hasFunc(frames, "os.OpenFile", "os.openFileNolog", "os.openDirNolog", "os.Open", "os.Create", "os.OpenInRoot"):
		return roleFile
	}
	return roleOther
}

// siteProto says which kind of socket a creation stack makes, from the net
// package's functions on it.
func siteProto(frames []probes.Frame) proto {
	for _, f := range frames {
		if !strings.HasPrefix(f.Func, "net.") {
			continue
		}
		switch {
		case strings.Contains(f.Func, "TCP"):
			return protoTCP
		case strings.Contains(f.Func, "UDP"):
			return protoUDP
		case strings.Contains(f.Func, "Unix"):
			return protoUnix
		}
	}
	return protoAny
}

func fdProto(fd *FD) proto {
	if fd.Socket == nil {
		return protoAny
	}
	switch n := fd.Socket.Name; {
	case strings.HasPrefix(n, "tcp"):
		return protoTCP
	case strings.HasPrefix(n, "udp"):
		return protoUDP
	case strings.HasPrefix(n, "unix"):
		return protoUnix
	}
	return protoAny
}

func fdRole(fd *FD) role {
	switch fd.Kind {
	case "socket":
		if fd.Socket != nil && fd.Socket.Listening {
			return roleListen
		}
		return roleSocket
	case "pipe", "fifo":
		return rolePipe
	case "file", "directory", "device":
		return roleFile
	}
	return roleOther
}

// runGoroutines summarises the goroutines that carry the run's label.
type runGoroutines struct {
	entries            map[string]bool // entry functions
	foreign            map[string]bool // entry functions of other goroutines
	httpIdle, httpBusy int             // http.Transport connection readers, idle or not
	// others counts the run's goroutines but the one looking: code of the
	// block's that may still open descriptors.
	others int
}

// lookingFunc is on the stack of the goroutine that looks, in its own
// goroutine profile.
const lookingFunc = "github.com/residue-go/residue/fds.findRunGoroutines"

func findRunGoroutines(r *probes.Run) runGoroutines {
	g := runGoroutines{entries: map[string]bool{}, foreign: map[string]bool{}}
	for _, gr := range stack.Groups("") {
		entry := ""
		for _, f := range gr.Frames {
			if !stack.IsRuntime(f.Func) {
				entry = f.Func
			}
		}
		if !gr.HasLabel(r.Label()) {
			g.foreign[entry] = true
			continue
		}
		g.entries[entry] = true
		if !hasFunc(gr.Frames, lookingFunc) {
			g.others += gr.Count
		}
		if hasFunc(gr.Frames, "net/http.(*persistConn).readLoop") {
			// An idle connection's reader waits for the next response's
			// first byte; one whose body is unread waits in a select.
			if hasFunc(gr.Frames, "bufio.(*Reader).Peek") {
				g.httpIdle += gr.Count
			} else {
				g.httpBusy += gr.Count
			}
		}
	}
	return g
}

const httpDial = "net/http.(*Transport).dialConn"

// decideGroup decides the undecided descriptors of one role and protocol,
// by the creation sites of that role: all are the block's when only the
// block's sites made descriptors of that kind; when other runs' sites did
// too, only as many as the block's sites made are, and each is reported as
// one of the candidates.
func (a *attribution) decideGroup(rl role, pr proto) {
	var group []*candidate
	for _, c := range a.cands {
		if !c.decided && c.role == rl && c.proto == pr {
			group = append(group, c)
		}
	}
	if len(group) == 0 {
		return
	}
	var my []*site
	var myN, otherN int64
	for _, s := range a.sites {
		accepted := rl == roleSocket && s.role == roleAccepted && !a.acceptedByListener
		if s.role != rl && s.role != roleOther && !accepted {
			continue
		}
		if pr != protoAny && s.proto != protoAny && s.proto != pr {
			continue
		}
		if s.mine {
			if s.left > 0 {
				my = append(my, s)
				myN += s.left
			}
		} else {
			otherN += s.count
		}
	}
	by := byGoroutine
	for _, s := range my {
		if s.owner == ownedByRun {
			by = byBlock
		}
	}
	claim := func(c *candidate, by string, oneOf []int) {
		c.mine, c.fd.By, c.fd.OneOf = true, by, oneOf
		if by != byAlone {
			setOpened(c.fd, my)
		}
	}
	claimed := int64(0)
	switch {
	case myN == 0 && otherN == 0 && a.alone:
		for _, c := range group {
			claim(c, byAlone, nil)
		}
	case myN == 0:
	case otherN == 0:
		for _, c := range group {
			claim(c, by, nil)
		}
		claimed = int64(len(group))
	default:
		nums := make([]int, len(group))
		for i, c := range group {
			nums[i] = c.fd.Num
		}
		for i, c := range group {
			if int64(i) < myN {
				claim(c, by, nums)
				claimed++
			}
		}
	}
	for _, c := range group {
		c.decided = true
	}
	spend(my, rl, claimed)
}

// spend takes n claimed descriptors off the sites' counts: the sites of
// the descriptors' own kind first, then those that wrap any kind.
func spend(sites []*site, rl role, n int64) {
	for _, exact := range []bool{true, false} {
		for _, s := range sites {
			if n <= 0 {
				return
			}
			if (s.role == rl) != exact {
				continue
			}
			k := min(s.left, n)
			s.left -= k
			n -= k
		}
	}
}

func setOpened(fd *FD, sites []*site) {
	switch len(sites) {
	case 0:
	case 1:
		fd.Opened = sites[0].frames
		fd.StartedAt = sites[0].started
	default:
		for _, s := range sites {
			fd.OpenedAt = append(fd.OpenedAt, s.frames)
		}
	}
	fd.adopted = len(sites) > 0
	for _, s := range sites {
		fd.adopted = fd.adopted && s.adopted
	}
}

// processListeners returns every listening socket of the process: the new
// ones (decided by now) and those open before the run, which are not the
// block's.
func (a *attribution) processListeners() []*candidate {
	var out []*candidate
	isFresh := map[int]bool{}
	for _, c := range a.cands {
		isFresh[c.fd.Num] = true
		if c.fd.Socket != nil && c.fd.Socket.Listening {
			out = append(out, c)
		}
	}
	all, err := snapshot()
	if err != nil {
		return out
	}
	for _, e := range all {
		if e.isSocket() && !isFresh[e.num] && isListening(e.num) {
			d := describe(e, a.t)
			out = append(out, &candidate{fd: &d, decided: true})
		}
	}
	return out
}

// sameListenAddr reports whether a connection with local address conn was
// accepted on a listener bound to listen (which may be a wildcard address).
func sameListenAddr(listen, conn string) bool {
	if listen == conn {
		return true
	}
	li, ci := strings.LastIndexByte(listen, ':'), strings.LastIndexByte(conn, ':')
	if li < 0 || ci < 0 || listen[li:] != conn[ci:] {
		return false
	}
	switch listen[:li] {
	case "0.0.0.0", "[::]":
		return true
	}
	return false
}

// peer is the other end of a reported socket, in this process.
type peer struct {
	fd     *FD
	mine   bool // also the block's
	before bool // open before the run
}

// findPeers names, for each reported socket whose other end is in this
// process, the descriptor of that end.
func findPeers(leaked []FD, cands []*candidate, t *netTables) map[int]peer {
	all, err := snapshot()
	if err != nil {
		return nil
	}
	byNum := map[int]*candidate{}
	for _, c := range cands {
		byNum[c.fd.Num] = c
	}
	ends := map[string]peer{}
	for _, e := range all {
		if !e.isSocket() {
			continue
		}
		var p peer
		if c := byNum[e.num]; c != nil {
			p = peer{fd: c.fd, mine: c.mine}
		} else {
			d := describe(e, t)
			p = peer{fd: &d, before: true}
		}
		if s := p.fd.Socket; s != nil && s.Peer != "" && s.Local != "" {
			ends[s.Local+"|"+s.Peer] = p
		}
	}
	peers := map[int]peer{}
	for i := range leaked {
		s := leaked[i].Socket
		if s == nil || s.Peer == "" || s.Local == "" || strings.HasPrefix(s.Name, "unix") {
			continue
		}
		if o, ok := ends[s.Peer+"|"+s.Local]; ok && o.fd.Num != leaked[i].Num {
			s.PeerFD = o.fd.Num
			peers[o.fd.Num] = o
		}
	}
	return peers
}
