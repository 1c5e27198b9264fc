package fds

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"slices"
	"strings"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/probes"
)

// The owners of a creation site.
const (
	ownerMine  = iota // the stack runs through this run's marker frame
	ownerOther        // through another run's marker frame
	ownerNone         // through no marker: opened by some goroutine
)

// site is a place that created descriptors during the run and whose objects
// are still in use.
type site struct {
	role   string  // see siteRole
	proto  string  // see siteProto
	owner  int     // ownerMine, ownerOther, ownerNone
	mine   bool    // owner is ownerMine, or ownerNone and the run can claim it
	frames []Frame // from the constructor out to the block's frame
	count  int64   // objects created during the run and still in use
	entry  string  // the goroutine's entry function, for ownerNone
	// started is, for ownerNone, the path from the block to the go
	// statement that started the goroutine, when the run's allocations show
	// it (see runAllocations.startedFrom).
	started []Frame
	key     string
}

// sites turns the heap records the run added into creation sites, merging
// the records of one constructor call (os.newFile allocates two objects).
func (p *Probe) sites(r *probes.Run) []*site {
	byKey := map[string]*site{}
	var out []*site
	allocs := runHeapRecords(p.baseline)
	for _, rec := range allocs.fds {
		n := min(rec.allocs, rec.inUse)
		if n <= 0 {
			continue
		}
		c := slices.IndexFunc(rec.frames, func(f Frame) bool { return f.Func == netConstructor || f.Func == osConstructor })
		if c < 0 {
			continue
		}
		s := &site{owner: ownerNone, count: n}
		s.frames = append(s.frames, Frame{Func: rec.frames[c].Func})
		for _, f := range rec.frames[c+1:] {
			if probes.IsMarker(f.Func) {
				if f.Func == r.Marker() {
					s.owner = ownerMine
				} else {
					s.owner = ownerOther
				}
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
		if n := len(s.frames); s.owner == ownerNone && n >= 2 && r.AdoptedBy(s.frames[n-2].Func, s.frames[n-1].Func) {
			// Opened by a goroutine that adopted the run, under the
			// function that adopted it: the block's own goroutine, whose
			// frame is the block's (as the marker's caller is).
			s.owner = ownerMine
			s.frames = s.frames[:n-1]
		}
		s.role, s.proto = siteRole(s.frames), siteProto(s.frames)
		var k strings.Builder
		fmt.Fprintf(&k, "%d|", s.owner)
		if s.owner == ownerOther {
			k.WriteString(rec.frames[c+len(s.frames)].Func) // the other run's marker
		}
		for _, f := range s.frames {
			fmt.Fprintf(&k, "%s %s:%d|", f.Func, f.File, f.Line)
		}
		s.key = k.String()
		if o := byKey[s.key]; o != nil {
			o.count = max(o.count, s.count)
			continue
		}
		if s.owner == ownerNone && r.Exclusive() {
			if parent := closureParent(s.entry); parent != "" {
				s.started = allocs.startedFrom(parent, r.Marker())
			}
		}
		byKey[s.key] = s
		out = append(out, s)
	}
	return out
}

// closureParent returns the function in which a closure or go-statement
// wrapper is defined ("pkg.(*T).m" for "pkg.(*T).m.func1.2" or
// "pkg.(*T).m.gowrap1"), or "" when fn is not one.
func closureParent(fn string) string {
	out := fn
	for {
		i := strings.LastIndexByte(out, '.')
		if i < 0 {
			break
		}
		last := out[i+1:]
		digits := strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(last, "func"), "gowrap"), "0123456789")
		if digits != "" || last == "func" || last == "gowrap" || strings.ContainsAny(last, "()*") {
			break
		}
		out = out[:i]
	}
	if out == fn {
		return ""
	}
	return out
}

func hasFunc(frames []Frame, names ...string) bool {
	for _, f := range frames {
		if slices.Contains(names, f.Func) {
			return true
		}
	}
	return false
}

// siteRole says what kind of descriptor a creation stack makes: "listen",
// "accepted", "socket", "pipe", "file", or "other" (os.NewFile over
// anything).
func siteRole(frames []Frame) string {
	if frames[0].Func == netConstructor {
		if hasFunc(frames, "net.(*netFD).accept") {
			return "accepted"
		}
		for _, f := range frames {
			if f.Func == "net.(*ListenConfig).Listen" || f.Func == "net.(*netFD).listenStream" ||
				strings.HasPrefix(f.Func, "net.(*sysListener).listenTCP") ||
				strings.HasPrefix(f.Func, "net.(*sysListener).listenMPTCP") ||
				f.Func == "net.(*sysListener).listenUnix" {
				return "listen"
			}
		}
		return "socket"
	}
	switch {
	case hasFunc(frames, "os.Pipe"):
		return "pipe"
	case hasFunc(frames, "os.OpenFile", "os.openFileNolog", "os.openDirNolog", "os.Open", "os.Create", "os.OpenInRoot"):
		return "file"
	}
	return "other"
}

// siteProto says which kind of socket a creation stack makes, from the net
// package's functions on it: "tcp", "udp", "unix", or "" when unknown.
func siteProto(frames []Frame) string {
	for _, f := range frames {
		if !strings.HasPrefix(f.Func, "net.") {
			continue
		}
		switch {
		case strings.Contains(f.Func, "TCP"):
			return "tcp"
		case strings.Contains(f.Func, "UDP"):
			return "udp"
		case strings.Contains(f.Func, "Unix"):
			return "unix"
		}
	}
	return ""
}

func fdProto(fd *FD) string {
	if fd.Socket == nil {
		return ""
	}
	for _, p := range []string{"tcp", "udp", "unix"} {
		if strings.HasPrefix(fd.Socket.Name, p) {
			return p
		}
	}
	return ""
}

func fdRole(fd *FD) string {
	switch fd.Kind {
	case "socket":
		if fd.Socket != nil && fd.Socket.Listening {
			return "listen"
		}
		return "socket"
	case "pipe", "fifo":
		return "pipe"
	case "file", "directory", "device":
		return "file"
	}
	return "other"
}

// runGoroutines summarises the goroutines that carry the run's label.
type runGoroutines struct {
	entries            map[string]bool // entry functions
	foreign            map[string]bool // entry functions of other goroutines
	httpIdle, httpBusy int             // http.Transport connection readers, idle or not
}

func findRunGoroutines(r *probes.Run) runGoroutines {
	g := runGoroutines{entries: map[string]bool{}, foreign: map[string]bool{}}
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	for _, gr := range stack.ParseProfile(buf.Bytes()) {
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

// attribute decides which new descriptors are the block's, describes them
// and fills rep.
func (p *Probe) attribute(r *probes.Run, fresh []fdEntry, rep *Report) {
	t := &netTables{}
	fds := make([]*FD, len(fresh))
	for i, e := range fresh {
		fd := describe(e, t)
		fds[i] = &fd
	}
	sites := p.sites(r)
	gs := findRunGoroutines(r)
	alone := p.run.alone()
	for _, s := range sites {
		switch {
		case s.owner == ownerMine:
			s.mine = true
		case s.owner == ownerNone:
			// Opened by a goroutine: the block's when that goroutine (still
			// running) carries the run's label, when it dialed for an
			// http.Transport whose connection readers carry it, or, when
			// no other probed block runs, unless a goroutine that is not
			// the block's runs that function.
			s.mine = len(s.started) > 0 || gs.entries[s.entry] ||
				(hasFunc(s.frames, httpDial) && gs.httpIdle+gs.httpBusy > 0) ||
				(alone && !gs.foreign[s.entry])
		}
	}

	mine := map[*FD]bool{}
	decided := map[*FD]bool{}
	// Listeners first, so that the connections they accepted follow them:
	// the block's when its listener is, another's otherwise.
	for _, proto := range []string{"tcp", "unix", ""} {
		p.assign(fds, sites, "listen", proto, alone, mine, decided)
	}
	listeners := processListeners(fds, t)
	var accepts []*site
	for _, s := range sites {
		if s.role == "accepted" {
			accepts = append(accepts, s)
		}
	}
	for _, fd := range fds {
		if decided[fd] || fd.Socket == nil || fd.Socket.Listening || fd.Socket.Peer == "" {
			continue
		}
		for _, l := range listeners {
			if sameListenAddr(l.Socket.Local, fd.Socket.Local) {
				decided[fd], mine[fd] = true, mine[l]
				fd.AcceptedBy = l.Num
				if mine[l] {
					fd.By = "listener"
					setOpened(fd, accepts)
				}
				break
			}
		}
	}
	for _, role := range []string{"socket", "pipe", "file", "other"} {
		for _, proto := range []string{"tcp", "udp", "unix", ""} {
			p.assign(fds, sites, role, proto, alone, mine, decided)
		}
	}

	for _, fd := range fds {
		if !mine[fd] {
			if !p.cfg.ignored(fd) {
				rep.Others = append(rep.Others, *fd)
			}
			continue
		}
		if fd.Socket != nil && openedBy(fd, httpDial) {
			fd.HTTPTransport = true
			fd.IdleHTTP = gs.httpIdle > 0 && gs.httpBusy == 0
		}
		if p.cfg.ignored(fd) {
			continue
		}
		rep.FDs = append(rep.FDs, *fd)
	}
	if len(rep.FDs) > 0 {
		rep.peers = findPeers(rep.FDs, mine, fds, t)
		// An unattributed descriptor already shown as a reported one's peer
		// is not listed again.
		rep.Others = slices.DeleteFunc(rep.Others, func(o FD) bool { return rep.peers[o.Num] != nil })
	}
}

// assign decides the undecided descriptors of one role, by the creation
// sites of that role: all are the block's when only the block's sites made
// descriptors of that kind; when other runs' sites did too, only as many as
// the block's sites made are, and each is reported as one of the candidates.
func (p *Probe) assign(fds []*FD, sites []*site, role, proto string, alone bool, mine, decided map[*FD]bool) {
	var group []*FD
	for _, fd := range fds {
		if !decided[fd] && fdRole(fd) == role && fdProto(fd) == proto {
			group = append(group, fd)
		}
	}
	if len(group) == 0 {
		return
	}
	var my []*site
	var myN, otherN int64
	for _, s := range sites {
		if s.role != role && s.role != "other" {
			continue
		}
		if proto != "" && s.proto != "" && s.proto != proto {
			continue
		}
		if s.mine {
			my = append(my, s)
			myN += s.count
		} else {
			otherN += s.count
		}
	}
	by := "goroutine"
	for _, s := range my {
		if s.owner == ownerMine {
			by = "block"
		}
	}
	switch {
	case myN == 0 && otherN == 0 && alone:
		for _, fd := range group {
			decided[fd], mine[fd] = true, true
			fd.By = "alone"
		}
	case myN == 0:
		for _, fd := range group {
			decided[fd] = true
		}
	case otherN == 0:
		for _, fd := range group {
			decided[fd], mine[fd] = true, true
			fd.By = by
			setOpened(fd, my)
		}
	default:
		nums := make([]int, len(group))
		for i, fd := range group {
			nums[i] = fd.Num
		}
		for i, fd := range group {
			decided[fd] = true
			if int64(i) < myN {
				mine[fd] = true
				fd.By = by
				fd.OneOf = nums
				setOpened(fd, my)
			}
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
}

// processListeners returns every listening socket of the process: the new
// ones among fresh and those open before.
func processListeners(fresh []*FD, t *netTables) []*FD {
	var out []*FD
	isFresh := map[int]bool{}
	for _, fd := range fresh {
		isFresh[fd.Num] = true
		if fd.Socket != nil && fd.Socket.Listening {
			out = append(out, fd)
		}
	}
	all, err := snapshot()
	if err != nil {
		return out
	}
	for _, e := range all {
		if e.isSocket() && !isFresh[e.num] && isListening(e.num) {
			d := describe(e, t)
			d.By = "before"
			out = append(out, &d)
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

// findPeers names, for each reported socket whose other end is in this
// process, the descriptor of that end.
func findPeers(leaked []FD, mine map[*FD]bool, fresh []*FD, t *netTables) map[int]*FD {
	all, err := snapshot()
	if err != nil {
		return nil
	}
	byNum := map[int]*FD{}
	for _, fd := range fresh {
		byNum[fd.Num] = fd
	}
	ends := map[string]*FD{}
	for _, e := range all {
		if !e.isSocket() {
			continue
		}
		fd := byNum[e.num]
		if fd == nil {
			d := describe(e, t)
			d.By = "before"
			fd = &d
		}
		if fd.Socket != nil && fd.Socket.Peer != "" && fd.Socket.Local != "" {
			ends[fd.Socket.Local+"|"+fd.Socket.Peer] = fd
		}
	}
	peers := map[int]*FD{}
	for i := range leaked {
		s := leaked[i].Socket
		if s == nil || s.Peer == "" || s.Local == "" || strings.HasPrefix(s.Name, "unix") {
			continue
		}
		if o := ends[s.Peer+"|"+s.Local]; o != nil && o.Num != leaked[i].Num {
			s.PeerFD = o.Num
			if !mine[o] && o.By != "before" {
				o.By = ""
			}
			peers[o.Num] = o
		}
	}
	return peers
}
