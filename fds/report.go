package fds

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// paths returns the paths IgnoringPath matches against.
func (fd *FD) paths() []string {
	var ps []string
	if fd.Path != "" {
		ps = append(ps, fd.Path)
	}
	if s := fd.Socket; s != nil && strings.HasPrefix(s.Name, "unix") {
		for _, p := range []string{s.Local, s.Peer} {
			if p != "" {
				ps = append(ps, p)
			}
		}
	}
	return ps
}

// summary describes the descriptor in one line, without its origin:
// "fd 9: tcp4 127.0.0.1:40042 → 127.0.0.1:6379 ESTABLISHED".
func (fd *FD) summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fd %d: ", fd.Num)
	if s := fd.Socket; s != nil {
		b.WriteString(s.Name)
		switch {
		case s.Listening:
			fmt.Fprintf(&b, " listener on %s", orUnnamed(s.Local))
		case s.Peer != "" || s.Local != "":
			fmt.Fprintf(&b, " %s → %s", orUnnamed(s.Local), orUnnamed(s.Peer))
		}
		if s.State != "" && !s.Listening {
			fmt.Fprintf(&b, " %s", s.State)
		}
		return b.String()
	}
	b.WriteString(fd.Kind)
	if fd.Path != "" {
		fmt.Fprintf(&b, " %s", fd.Path)
	}
	return b.String()
}

func orUnnamed(a string) string {
	if a == "" {
		return "(unnamed)"
	}
	return a
}

// Bounds of a message: descriptors opened at one place are listed together
// under that place's stack, the first few by number.
const (
	maxShownPerOrigin = 5
	maxOrigins        = 10
	maxOneOf          = 10
)

// originGroup is a group of reported descriptors that share how and where
// they were opened.
type originGroup struct {
	fds []*FD
}

// groupByOrigin groups the reported descriptors by their origin, in the
// order of their first descriptor.
func (r *Report) groupByOrigin() []*originGroup {
	var out []*originGroup
	byKey := map[string]*originGroup{}
	for i := range r.FDs {
		fd := &r.FDs[i]
		var k strings.Builder
		fmt.Fprintf(&k, "%s|%d|%v|%s|", fd.By, len(fd.OneOf), fd.adopted, strings.Join(fd.hints(), "|"))
		for _, fs := range append([][]probes.Frame{fd.Opened, fd.StartedAt}, fd.OpenedAt...) {
			for _, f := range fs {
				fmt.Fprintf(&k, "%s %s:%d;", f.Func, f.File, f.Line)
			}
			k.WriteString("|")
		}
		o := byKey[k.String()]
		if o == nil {
			o = &originGroup{}
			byKey[k.String()] = o
			out = append(out, o)
		}
		o.fds = append(o.fds, fd)
	}
	return out
}

// subject is who left the descriptors: the test, for a run a test adopted,
// else the block.
func (r *Report) subject() string {
	for i := range r.FDs {
		if r.FDs[i].adopted {
			return "test"
		}
	}
	return "block"
}

// letGoNote says what a report of a run whose finalizer queue was let go
// may miss.
const letGoNote = "(the finalizer queue was let go while the block waited for finalizers: a descriptor it dropped without closing may have been closed by a GC and not be listed)"

// String formats the report as a failure message: a headline, then one
// block per place that opened descriptors, with what they are, what to do
// about them, and the stack that opened them, shown once.
func (r *Report) String() string {
	what := "file descriptor"
	if r != nil && r.SocketsOnly {
		what = "socket"
	}
	if r == nil || len(r.FDs) == 0 {
		out := fmt.Sprintf("The block left no %ss open.", what)
		if r != nil && !r.Held {
			out += "\n" + letGoNote
		}
		return out
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The %s left %s open", r.subject(), text.Plural(len(r.FDs), what))
	dropped := 0
	for i := range r.FDs {
		if r.FDs[i].Dropped {
			dropped++
		}
	}
	switch {
	case dropped == len(r.FDs) && r.Within > 0 && r.Waited < r.Within:
		fmt.Fprintf(&b, " (dropped without Close, so reported without waiting out the %v settle window)", r.Within)
	case r.Within > 0 && r.Stilled && dropped > 0:
		fmt.Fprintf(&b, " (%s; %d dropped without Close)", text.Stilled(r.Within), dropped)
	case r.Within > 0 && r.Stilled:
		fmt.Fprintf(&b, " (%s)", text.Stilled(r.Within))
	case dropped > 0 && r.Within > 0:
		fmt.Fprintf(&b, " (still open after the %v settle window; %d dropped without Close)", r.Within, dropped)
	case r.Within > 0:
		fmt.Fprintf(&b, " (still open after the %v settle window)", r.Within)
	}
	b.WriteString(":\n")
	text.Groups(&b, r.groupByOrigin(), maxOrigins, r.writeOrigin,
		func(o *originGroup) int { return len(o.fds) },
		func(fds, places int) string {
			return "… and " + text.Plural(fds, what) + " opened at " + text.Plural(places, "other place") + " not shown"
		})
	if !r.Held {
		b.WriteString("\n" + letGoNote + "\n")
	}
	text.Others(&b, "Also opened while the block ran, and not counted as the block's (their creation stacks tie them to other goroutines or to another probed block running at the same time)",
		r.Others, (*FD).summary)
	return b.String()
}

func (r *Report) writeOrigin(b *strings.Builder, o *originGroup) {
	for i, fd := range o.fds {
		if i == maxShownPerOrigin {
			fmt.Fprintf(b, "… and %d more opened the same way\n", len(o.fds)-i)
			break
		}
		b.WriteString(fd.summary())
		b.WriteString("\n")
		r.writePeer(b, fd)
	}
	fd := o.fds[0]
	if len(fd.OneOf) > 1 {
		fmt.Fprintf(b, "    one of fds %s: another probed block running at the same time opened the same kind of descriptor, so which of them is this block's cannot be told\n", joinInts(fd.OneOf))
	}
	for _, h := range fd.hints() {
		fmt.Fprintf(b, "    %s\n", h)
	}
	frames, alts := fd.Opened, fd.OpenedAt
	switch {
	case frames != nil:
		writeOpened(b, fd, frames)
	case len(alts) > 0:
		fmt.Fprintf(b, "    opened at one of %d places (descriptors of this kind were opened at each):\n", len(alts))
		for _, f := range alts {
			writeOpened(b, fd, f)
		}
	case fd.By == byAlone && r.stacksStopped:
		fmt.Fprintf(b, "    opened while the block ran, no creation stack: %s (no other probed block was running)\n", memprof.BudgetNote())
	case fd.By == byAlone:
		b.WriteString("    opened while the block ran, by a goroutine or a system call that left no creation stack (no other probed block was running)\n")
	}
}

func (r *Report) writePeer(b *strings.Builder, fd *FD) {
	s := fd.Socket
	if s == nil || s.PeerFD < 0 {
		return
	}
	p, ok := r.peers[s.PeerFD]
	if !ok {
		return
	}
	fmt.Fprintf(b, "    its peer is in this process: %s", p.fd.summary())
	switch {
	case p.before:
		b.WriteString(", open before the block ran")
	case p.fd.AcceptedBy >= 0 && p.mine:
		fmt.Fprintf(b, ", accepted by listener fd %d; both opened by the block", p.fd.AcceptedBy)
	case p.fd.AcceptedBy >= 0:
		fmt.Fprintf(b, ", accepted by listener fd %d, which is not the block's", p.fd.AcceptedBy)
	case p.mine:
		b.WriteString(", also opened by the block")
	}
	b.WriteString("\n")
}

func (fd *FD) hints() []string {
	var hs []string
	s := fd.Socket
	switch {
	case fd.IdleHTTP:
		hs = append(hs, "an idle keep-alive connection kept in an http.Transport's pool: call CloseIdleConnections on the client (or its Transport) when done, or set DisableKeepAlives; allow it with fds.IgnoringIdleHTTPConns() (and its transport's goroutines with leak.IgnoringIdleHTTPConns()); under residue test, accept it in the baseline")
	case fd.HTTPTransport:
		hs = append(hs, "a connection of an http.Transport in use by a response whose body was not closed: read the body to the end and Close it (defer resp.Body.Close())")
	case s != nil && s.Listening && openedBy(fd, "net/http/httptest.NewServer", "net/http/httptest.NewUnstartedServer"):
		hs = append(hs, "the listener of an httptest.Server that was not closed: call its Close method (defer srv.Close())")
	case s != nil && s.Listening:
		hs = append(hs, "a listener that was not closed: call its Close method")
	case fd.By == byListener:
		hs = append(hs, fmt.Sprintf("accepted by listener fd %d, opened by the block: a server connection that is still being served", fd.AcceptedBy))
	}
	if fd.Dropped {
		hs = append(hs, "dropped without Close: nothing in the program can reach its "+fd.owner()+" any more, so only its finalizer, at some later GC, would close it")
	}
	if s != nil && s.State == "CLOSE_WAIT" && !fd.Dropped {
		hs = append(hs, "the peer has closed its end (CLOSE_WAIT): this end was dropped without Close")
	}
	return hs
}

// openedBy reports whether every known creation stack of fd runs through
// one of fns.
func openedBy(fd *FD, fns ...string) bool {
	if fd.Opened != nil {
		return hasFunc(fd.Opened, fns...)
	}
	for _, o := range fd.OpenedAt {
		if !hasFunc(o, fns...) {
			return false
		}
	}
	return len(fd.OpenedAt) > 0
}

// maxOpenedFrames bounds the frames shown per creation stack; the outermost
// ones, nearest the block, are kept.
const maxOpenedFrames = 12

func writeOpened(b *strings.Builder, fd *FD, frames []probes.Frame) {
	// frames[0] is the constructor, with no line: start at its caller.
	fs := frames[1:]
	var shown []probes.Frame
	for _, f := range fs {
		if !strings.HasPrefix(f.Func, "runtime.") {
			shown = append(shown, f)
		}
	}
	if len(shown) == 0 {
		return
	}
	last := shown[len(shown)-1]
	who := "the block"
	if fd.adopted {
		who = "the test"
	}
	switch fd.By {
	case byBlock:
		fmt.Fprintf(b, "    opened by %s at %s\n", who, last.Location())
	case byListener:
		b.WriteString("    accepted by the server goroutine at:\n")
	case byGoroutine:
		if st := fd.StartedAt; len(st) > 0 {
			fmt.Fprintf(b, "    opened by a goroutine %s started: go statement at %s, reached from %s at %s\n",
				who, st[0].Location(), who, st[len(st)-1].Location())
		} else {
			fmt.Fprintf(b, "    opened by a goroutine running %s\n", last.Func)
		}
	default:
		fmt.Fprintf(b, "    opened while the block ran by a goroutine running %s (no other probed block was running)\n", last.Func)
	}
	b.WriteString("    stack that opened it (innermost first):\n")
	skipped := 0
	if len(shown) > maxOpenedFrames {
		skipped = len(shown) - maxOpenedFrames
	}
	writeFrames := func(shown []probes.Frame, skipped int) {
		for i, f := range shown {
			if i == 4 && skipped > 0 {
				fmt.Fprintf(b, "        … %s …\n", text.Plural(skipped, "frame"))
			}
			if i >= 4 && i < 4+skipped {
				continue
			}
			fmt.Fprintf(b, "        %s\n", f.Func)
			if loc := f.Location(); loc != "" {
				fmt.Fprintf(b, "            %s\n", loc)
			}
		}
	}
	writeFrames(shown, skipped)
	if st := fd.StartedAt; len(st) > 0 && fd.Opened != nil {
		b.WriteString("    go statement that started that goroutine, and the path to it from the block:\n")
		writeFrames(st, max(0, len(st)-maxOpenedFrames))
	}
}

func joinInts(ns []int) string {
	var s []string
	for i, n := range ns {
		if i == maxOneOf {
			s = append(s, fmt.Sprintf("… (%d in all)", len(ns)))
			break
		}
		s = append(s, fmt.Sprint(n))
	}
	return strings.Join(s, ", ")
}

// owner names the Go object that held a dropped descriptor.
func (fd *FD) owner() string {
	if fd.droppedBy == "net.Conn" && fd.Socket != nil && fd.Socket.Listening {
		return "net.Listener"
	}
	return fd.droppedBy
}
