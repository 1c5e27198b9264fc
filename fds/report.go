package fds

import (
	"fmt"
	"strings"

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

// Summary describes the descriptor in one line, without its origin:
// "fd 9: tcp4 127.0.0.1:40042 → 127.0.0.1:6379 ESTABLISHED".
func (fd *FD) Summary() string {
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

// String formats the report as a failure message: a headline, then one
// block per descriptor with what it is, what to do about it, and the stack
// that opened it.
func (r *Report) String() string {
	what := "file descriptor"
	if r.SocketsOnly {
		what = "socket"
	}
	if !r.Leaked() {
		return fmt.Sprintf("The block left no %ss open.", what)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The block left %s open", text.Plural(len(r.FDs), what))
	if r.Within > 0 {
		fmt.Fprintf(&b, " (still open after the %v settle window)", r.Within)
	}
	b.WriteString(":\n")
	for i := range r.FDs {
		b.WriteString("\n")
		r.writeFD(&b, &r.FDs[i])
	}
	if !r.Held {
		b.WriteString("\n(the finalizer queue could not be held: another finalizer is blocking it)\n")
	}
	if len(r.Others) > 0 {
		b.WriteString("\nAlso opened while the block ran, and not counted as the block's (their creation stacks tie them to other goroutines or to another probed block running at the same time):\n")
		for i := range r.Others {
			fmt.Fprintf(&b, "    %s\n", r.Others[i].Summary())
		}
	}
	return b.String()
}

func (r *Report) writeFD(b *strings.Builder, fd *FD) {
	b.WriteString(fd.Summary())
	b.WriteString("\n")
	if len(fd.OneOf) > 1 {
		fmt.Fprintf(b, "    one of fds %s: another probed block running at the same time opened the same kind of descriptor, so which of them is this block's cannot be told\n", joinInts(fd.OneOf))
	}
	s := fd.Socket
	if s != nil && s.PeerFD >= 0 {
		if p := r.peers[s.PeerFD]; p != nil {
			fmt.Fprintf(b, "    its peer is in this process: %s", p.Summary())
			switch {
			case p.By == "before":
				b.WriteString(", open before the block ran")
			case p.AcceptedBy >= 0 && p.By != "":
				fmt.Fprintf(b, ", accepted by listener fd %d; both opened by the block", p.AcceptedBy)
			case p.AcceptedBy >= 0:
				fmt.Fprintf(b, ", accepted by listener fd %d, which is not the block's", p.AcceptedBy)
			case p.By != "":
				b.WriteString(", also opened by the block")
			}
			b.WriteString("\n")
		}
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
	case fd.By == "alone":
		b.WriteString("    opened while the block ran, by a goroutine or a system call that left no creation stack (no other probed block was running)\n")
	}
}

func (fd *FD) hints() []string {
	var hs []string
	s := fd.Socket
	switch {
	case fd.IdleHTTP:
		hs = append(hs, "an idle keep-alive connection kept in an http.Transport's pool: call CloseIdleConnections on the client (or its Transport) when done, or set DisableKeepAlives; allow it with fds.IgnoringIdleHTTPConns()")
	case fd.HTTPTransport:
		hs = append(hs, "a connection of an http.Transport in use by a response whose body was not closed: read the body to the end and Close it (defer resp.Body.Close())")
	case s != nil && s.Listening && openedBy(fd, "net/http/httptest.NewServer", "net/http/httptest.NewUnstartedServer"):
		hs = append(hs, "the listener of an httptest.Server that was not closed: call its Close method (defer srv.Close())")
	case s != nil && s.Listening:
		hs = append(hs, "a listener that was not closed: call its Close method")
	case fd.By == "listener":
		hs = append(hs, fmt.Sprintf("accepted by listener fd %d, opened by the block: a server connection that is still being served", fd.AcceptedBy))
	}
	if s != nil && s.State == "CLOSE_WAIT" {
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

func writeOpened(b *strings.Builder, fd *FD, frames []Frame) {
	// frames[0] is the constructor, with no line: start at its caller.
	fs := frames[1:]
	var shown []Frame
	for _, f := range fs {
		if !strings.HasPrefix(f.Func, "runtime.") {
			shown = append(shown, f)
		}
	}
	if len(shown) == 0 {
		return
	}
	last := shown[len(shown)-1]
	switch fd.By {
	case "block", "listener":
		if fd.By == "block" {
			fmt.Fprintf(b, "    opened by the block at %s\n", last.Location())
		} else {
			b.WriteString("    accepted by the server goroutine at:\n")
		}
	case "goroutine":
		if st := fd.StartedAt; len(st) > 0 {
			fmt.Fprintf(b, "    opened by a goroutine the block started: go statement at %s, reached from the block at %s\n",
				st[0].Location(), st[len(st)-1].Location())
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
	writeFrames := func(shown []Frame, skipped int) {
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
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
