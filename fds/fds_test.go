//go:build linux

package fds_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/probes"
)

// nextLine returns the line after the caller's: write it just above the
// line that opens the descriptor.
func nextLine() int {
	_, _, line, _ := runtime.Caller(1)
	return line + 1
}

// closer collects what a leaking block left, to close it after the check.
type closer []io.Closer

func (c *closer) keep(x io.Closer) { *c = append(*c, x) }
func (c *closer) close() {
	for _, x := range *c {
		x.Close()
	}
	*c = nil
}

func reported(t *testing.T, report *fds.Report, num int) *fds.FD {
	t.Helper()
	for i := range report.FDs {
		if report.FDs[i].Num == num {
			return &report.FDs[i]
		}
	}
	t.Fatalf("fd %d not reported:\n%s", num, report)
	return nil
}

// fdOf returns the descriptor number under a file, conn or listener.
func fdOf(t *testing.T, x any) int {
	t.Helper()
	if f, ok := x.(*os.File); ok {
		return int(f.Fd())
	}
	sc, ok := x.(interface {
		SyscallConn() (syscall.RawConn, error)
	})
	if !ok {
		t.Fatalf("no descriptor in %T", x)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	raw.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// openedAt returns the block's frame of the stack that opened fd.
func openedAt(fd *fds.FD) probes.Frame {
	if len(fd.Opened) == 0 {
		return probes.Frame{}
	}
	return fd.Opened[len(fd.Opened)-1]
}

func TestFindFDsDescribesEachKindAndWhereTheBlockOpenedIt(t *testing.T) {
	var left closer
	defer left.close()
	dir := t.TempDir()
	sockPath := filepath.Join(dir, "s.sock")
	var (
		ln                          *net.TCPListener
		dialed, accepted            net.Conn
		file, pr, pw                *os.File
		ul                          *net.UnixListener
		udp                         *net.UDPConn
		uc                          *net.UnixConn
		lnLine, dialLine, fileLine  int
		pipeLine, unixLine, udpLine int
		abstractLine                int
	)
	report, err := fds.Find(func() {
		var err error
		lnLine = nextLine()
		ln, err = net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			panic(err)
		}
		dialLine = nextLine()
		dialed, _ = net.Dial("tcp4", ln.Addr().String())
		accepted, _ = ln.Accept()
		fileLine = nextLine()
		file, _ = os.Create(filepath.Join(dir, "data.txt"))
		pipeLine = nextLine()
		pr, pw, _ = os.Pipe()
		unixLine = nextLine()
		ul, _ = net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
		udpLine = nextLine()
		udp, _ = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		abstractLine = nextLine()
		uc, _ = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: "@residue-test-" + t.Name(), Net: "unixgram"})
	}, fds.Within(0))
	for _, c := range []io.Closer{ln, dialed, accepted, file, pr, pw, ul, udp, uc} {
		left.keep(c)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := len(report.FDs); got != 9 {
		t.Fatalf("reported %d descriptors, want 9:\n%s", got, report)
	}
	check := func(x any, line int, summary ...string) *fds.FD {
		t.Helper()
		fd := reported(t, report, fdOf(t, x))
		for _, s := range summary {
			if !strings.Contains(fds.SummaryOf(fd), s) {
				t.Errorf("fd %d: summary %q lacks %q", fd.Num, fds.SummaryOf(fd), s)
			}
		}
		if line != 0 {
			if at := openedAt(fd); at.Line != line || !strings.HasSuffix(at.File, "fds_test.go") {
				t.Errorf("fd %d (%s) opened at %s, want fds_test.go:%d\n%s", fd.Num, fds.SummaryOf(fd), at.Location(), line, report)
			}
			if fd.By != "block" {
				t.Errorf("fd %d: By = %q, want block", fd.Num, fd.By)
			}
		}
		return fd
	}
	l := check(ln, lnLine, "tcp4", "listener on "+ln.Addr().String())
	if !l.Socket.Listening || l.Socket.State != "LISTEN" {
		t.Errorf("listener: %+v", l.Socket)
	}
	d := check(dialed, dialLine, "tcp4 "+dialed.LocalAddr().String()+" → "+ln.Addr().String(), "ESTABLISHED")
	a := check(accepted, 0, "tcp4 "+accepted.LocalAddr().String()+" → "+dialed.LocalAddr().String())
	if d.Socket.PeerFD != a.Num || a.Socket.PeerFD != d.Num {
		t.Errorf("peers: dialed %d has peer %d, accepted %d has peer %d", d.Num, d.Socket.PeerFD, a.Num, a.Socket.PeerFD)
	}
	if a.By != "listener" || a.AcceptedBy != l.Num {
		t.Errorf("accepted: By %q AcceptedBy %d, want listener %d", a.By, a.AcceptedBy, l.Num)
	}
	check(file, fileLine, "file "+filepath.Join(dir, "data.txt"))
	check(pr, pipeLine, "pipe read end")
	check(pw, pipeLine, "pipe write end")
	check(ul, unixLine, "unix stream listener on "+sockPath)
	check(udp, udpLine, "udp4 "+udp.LocalAddr().String())
	check(uc, abstractLine, "unix dgram @residue-test-")

	msg := report.String()
	for _, want := range []string{
		"The block left 9 file descriptors open:",
		"its peer is in this process: fd " + itoa(a.Num),
		"a listener that was not closed",
		"opened by the block at " + openedAt(d).Location(),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestCleanBlockLeavesNothingAndEarlierDescriptorsNeverCount(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	kept, _ := os.Open(os.DevNull) // open before, still open after
	defer kept.Close()
	closedByBlock, _ := os.Open(os.DevNull)
	report, err := fds.Find(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		s, _ := ln.Accept()
		s.Close()
		c.Close()
		f, _ := os.CreateTemp(t.TempDir(), "x")
		f.Close()
		r, w, _ := os.Pipe()
		r.Close()
		w.Close()
		closedByBlock.Close()
		reopened, _ := os.Open(os.DevNull) // may take the number just freed
		reopened.Close()
	}, fds.Within(0))
	if err != nil || len(report.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, report)
	}
	if got := report.String(); got != "The block left no file descriptors open." {
		t.Errorf("String() = %q", got)
	}
}

// TestDroppedSocketIsReportedEveryTime drops a connection without closing
// it and runs the GC inside the block, which closes an unreachable socket
// through its finalizer unless the probe holds the finalizer queue.
func TestDroppedSocketIsReportedEveryTimeAndCleanBlockNever(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	runs := 1000
	if raceEnabled {
		runs = 100
	}
	var leakLine int
	leaking := func() {
		leakLine = nextLine()
		c, _ := net.Dial("tcp", addr)
		_ = c // dropped without Close
		runtime.GC()
	}
	clean := func() {
		c, _ := net.Dial("tcp", addr)
		c.Close()
	}
	start := time.Now()
	for i := range runs {
		r, err := fds.FindSockets(leaking, fds.Within(0))
		if err != nil || len(r.FDs) != 1 || r.FDs[0].Socket == nil || r.FDs[0].Socket.Name != "tcp4" || !r.Held ||
			openedAt(&r.FDs[0]).Line != leakLine {
			t.Fatalf("leaking run %d: err %v, report:\n%s", i, err, r)
		}
		r, err = fds.FindSockets(clean, fds.Within(0))
		if err != nil || len(r.FDs) > 0 {
			t.Fatalf("clean run %d: err %v, report:\n%s", i, err, r)
		}
	}
	t.Logf("%d leaking and %d clean runs in %v", runs, runs, time.Since(start))
}

func TestEarlierDescriptorsClosedByAGCAreNotTheBlocks(t *testing.T) {
	// Sanity check of the finalizer hold: once the run is over, the dropped
	// socket is closed by its finalizer again.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	var num int
	r, _ := fds.FindSockets(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		num = fdOf(t, c)
	}, fds.Within(0))
	if len(r.FDs) == 0 {
		t.Fatalf("not reported")
	}
	runtime.GC()
	runtime.GC()
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := unix.FcntlInt(uintptr(num), unix.F_GETFD, 0); err != nil {
			return // closed by the finalizer once released
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("fd %d still open: the finalizer queue was not released", num)
}

func TestIdleHTTPConnsAreNamedAndCanBeAllowed(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer srv.Close()

	get := func(client *http.Client, readAndClose bool) func() {
		return func() {
			resp, err := client.Get(srv.URL)
			if err != nil {
				panic(err)
			}
			if readAndClose {
				io.ReadAll(resp.Body)
				resp.Body.Close()
			}
		}
	}

	t.Run("idle keep-alive connection", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		r, err := fds.FindSockets(get(client, true), fds.Within(50*time.Millisecond))
		if err != nil || len(r.FDs) != 1 || !r.FDs[0].IdleHTTP {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
		msg := r.String()
		for _, want := range []string{"idle keep-alive connection", "CloseIdleConnections", "fds.IgnoringIdleHTTPConns()", "leak.IgnoringIdleHTTPConns()", "net/http.(*Transport).dialConn"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		// The server's end is named as the peer, not reported: the test's
		// server, not the block, accepted it.
		if !strings.Contains(msg, "which is not the block's") || len(r.Others) != 0 {
			t.Errorf("server end:\n%s", msg)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		r, err := fds.FindSockets(get(client, true), fds.Within(50*time.Millisecond), fds.IgnoringIdleHTTPConns())
		if err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	})
	t.Run("closed idle connections", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		r, err := fds.FindSockets(func() {
			get(client, true)()
			client.CloseIdleConnections()
		}, fds.Within(time.Second))
		if err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	})
	t.Run("body not closed", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		r, err := fds.FindSockets(get(client, false), fds.Within(50*time.Millisecond), fds.IgnoringIdleHTTPConns())
		if err != nil || len(r.FDs) != 1 || r.FDs[0].IdleHTTP || !r.FDs[0].HTTPTransport {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
		if msg := r.String(); !strings.Contains(msg, "whose body was not closed") {
			t.Errorf("message lacks the fix:\n%s", msg)
		}
	})
}

func TestIgnoringPath(t *testing.T) {
	dir := t.TempDir()
	var left closer
	defer left.close()
	var f, g *os.File
	block := func() {
		f, _ = os.Create(filepath.Join(dir, "cache-1.db"))
		g, _ = os.Create(filepath.Join(dir, "other.txt"))
		left.keep(f)
		left.keep(g)
	}
	r, _ := fds.Find(block, fds.Within(0), fds.IgnoringPath(filepath.Join(dir, "cache-*.db")))
	if len(r.FDs) != 1 || r.FDs[0].Path != g.Name() {
		t.Fatalf("IgnoringPath: report:\n%s", r)
	}
}

func TestFindSocketsLooksAtSocketsOnly(t *testing.T) {
	var left closer
	defer left.close()
	r, err := fds.FindSockets(func() {
		f, _ := os.Open(os.DevNull)
		left.keep(f)
	}, fds.Within(0))
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if got := r.String(); got != "The block left no sockets open." {
		t.Errorf("String() = %q", got)
	}
}

func TestRawDescriptorIsReportedWithoutStack(t *testing.T) {
	var num int
	r, err := fds.Find(func() {
		num, _ = unix.Eventfd(0, unix.EFD_CLOEXEC)
	}, fds.Within(0))
	defer unix.Close(num)
	if err != nil || len(r.FDs) != 1 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	fd := r.FDs[0]
	if fd.Num != num || fd.Kind != "eventfd" || fd.By != "alone" || fd.Opened != nil {
		t.Errorf("got %+v", fd)
	}
	if !strings.Contains(r.String(), "left no creation stack") {
		t.Errorf("message:\n%s", r)
	}
}

func TestSettleWindowWaitsForAsynchronousClose(t *testing.T) {
	var c net.Conn
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	r, err := fds.FindSockets(func() {
		c, _ = net.Dial("tcp", ln.Addr().String())
		time.AfterFunc(30*time.Millisecond, func() { c.Close() })
	}, fds.Within(2*time.Second))
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if r.Waited < 30*time.Millisecond || r.Waited > time.Second {
		t.Errorf("waited %v", r.Waited)
	}
}

// TestParallelBlocksAreNotConfused runs probed blocks at the same time, some
// leaking and some clean: each report holds its own block's descriptors
// only, with its own block's line.
func TestParallelBlocksAreNotConfused(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	dir := t.TempDir()
	const n = 6
	var (
		ready, done sync.WaitGroup
		arrived     sync.WaitGroup
		reports     [n]*fds.Report
		errs        [n]error
		lines       [n]int
		left        [n]closer
	)
	ready.Add(n)
	done.Add(n)
	arrived.Add(n)
	release := make(chan struct{})
	for i := range n {
		go func() {
			defer done.Done()
			reports[i], errs[i] = fds.Find(func() {
				ready.Done()
				<-release
				switch i % 3 {
				case 0: // leaks a socket
					lines[i] = nextLine()
					c, _ := net.Dial("tcp", ln.Addr().String())
					left[i].keep(c)
				case 1: // leaks a file
					lines[i] = nextLine()
					f, _ := os.Create(filepath.Join(dir, "f"+strconv.Itoa(i)))
					left[i].keep(f)
				case 2: // clean, opening and closing both kinds
					c, _ := net.Dial("tcp", ln.Addr().String())
					f, _ := os.Create(filepath.Join(dir, "g"+strconv.Itoa(i)))
					time.Sleep(5 * time.Millisecond)
					c.Close()
					f.Close()
				}
				arrived.Done()
				arrived.Wait() // every block has opened its descriptors before any returns
			}, fds.Within(100*time.Millisecond))
		}()
	}
	ready.Wait()
	close(release)
	done.Wait()
	for i := range n {
		defer left[i].close()
		r := reports[i]
		if errs[i] != nil {
			t.Fatalf("block %d: %v", i, errs[i])
		}
		if i%3 == 2 {
			if len(r.FDs) > 0 {
				t.Errorf("clean block %d reported:\n%s", i, r)
			}
			continue
		}
		if len(r.FDs) != 1 {
			t.Errorf("block %d: %d descriptors reported, want 1:\n%s", i, len(r.FDs), r)
			continue
		}
		fd := r.FDs[0]
		if at := openedAt(&fd); at.Line != lines[i] {
			t.Errorf("block %d: opened at %s, want line %d:\n%s", i, at.Location(), lines[i], r)
		}
		if wantKind := []string{"socket", "file"}[i%3]; fd.Kind != wantKind {
			t.Errorf("block %d: kind %s, want %s", i, fd.Kind, wantKind)
		}
		// Blocks i and i+3 left the same kind at the same time: each counts
		// one, and says which two numbers it is among.
		if len(fd.OneOf) != 2 || !strings.Contains(r.String(), "one of fds ") {
			t.Errorf("block %d: OneOf %v:\n%s", i, fd.OneOf, r)
		}
	}
}

// deep calls f under n more frames.
//
//go:noinline
func deep(n int, f func()) {
	if n == 0 {
		f()
		return
	}
	deep(n-1, f)
}

// Where the runtime's records are read directly their stacks are whole;
// where they are runtime.MemProfile's, cut at 32 frames, the whole stack is
// found in the heap profile's text form.
func TestCreationLineFoundUnderADeepStack(t *testing.T) {
	t.Run("records read directly", testCreationLineUnderADeepStack)
	t.Run("records cut at 32 frames", func(t *testing.T) {
		defer memprof.ReadCutStacks()()
		testCreationLineUnderADeepStack(t)
	})
}

func testCreationLineUnderADeepStack(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	var c net.Conn
	var line int
	r, err := fds.FindSockets(func() {
		deep(40, func() {
			line = nextLine()
			c, _ = net.Dial("tcp", ln.Addr().String())
		})
	}, fds.Within(0))
	defer c.Close()
	if err != nil || len(r.FDs) != 1 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	fd := r.FDs[0]
	if fd.By != "block" || len(fd.Opened) < 40 {
		t.Fatalf("By %q, %d frames:\n%s", fd.By, len(fd.Opened), r)
	}
	found := false
	for _, f := range fd.Opened {
		found = found || (f.Line == line && strings.HasSuffix(f.File, "fds_test.go"))
	}
	if !found {
		t.Errorf("line %d not in the creation stack:\n%s", line, r)
	}
}

// TestNetpollerIsNotTheBlocks runs, in a fresh process, a block that is the
// first code to open a file: the runtime creates its netpoller descriptors
// (epoll, eventfd) then, and they must not be reported.
func TestNetpollerIsNotTheBlocks(t *testing.T) {
	if os.Getenv("RESIDUE_FD_FIRST_OPEN") == "1" {
		r, err := fds.Find(func() {
			f, err := os.Open(os.DevNull)
			if err == nil {
				f.Close()
			}
		}, fds.Within(0))
		if err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestNetpollerIsNotTheBlocks$", "-test.v")
	cmd.Env = append(os.Environ(), "RESIDUE_FD_FIRST_OPEN=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// serveOne accepts connections on a new listener, on a goroutine that
// drops them and ends once the listener is closed; goLine is the line of
// its go statement.
func serveOne(t *testing.T) (addr string, stop func(), goLine int) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	goLine = nextLine()
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c // dropped without Close, as a handler that took the connection over and forgot it
		}
	}()
	return ln.Addr().String(), func() { ln.Close(); <-done }, goLine
}

// A connection accepted by a server the block started, and left open after
// the block closed the listener and the server's goroutine ended, is tied
// to the Accept line and to the go statement that started the server.
func TestAcceptedConnectionOfAClosedListenerKeepsItsStack(t *testing.T) {
	var goLine int
	r, err := fds.FindSockets(func() {
		var addr string
		var stop func()
		addr, stop, goLine = serveOne(t)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
		time.Sleep(10 * time.Millisecond) // the server accepts
		stop()
	}, fds.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.FDs) != 1 {
		t.Fatalf("want the accepted connection alone:\n%s", r)
	}
	fd := r.FDs[0]
	accepted := slices.ContainsFunc(fd.Opened, func(f probes.Frame) bool { return f.Func == "net.(*netFD).accept" })
	if fd.By != "goroutine" || !accepted || len(fd.StartedAt) == 0 ||
		!strings.HasSuffix(fd.StartedAt[0].Func, ".serveOne") || fd.StartedAt[0].Line != goLine {
		t.Errorf("By %q, opened at %v, started at %v (the go statement is at line %d):\n%s", fd.By, fd.Opened, fd.StartedAt, goLine, r)
	}
	if s := r.String(); strings.Contains(s, "left no creation stack") {
		t.Errorf("the message has no stack:\n%s", s)
	}
}

// stackBudget sets memprof.StackBudget to n until the test ends.
func stackBudget(t *testing.T, n uint64) {
	old := memprof.StackBudget.Load()
	memprof.StackBudget.Store(n)
	t.Cleanup(func() { memprof.StackBudget.Store(old) })
}

// A block that allocates more than memprof.StackBudget objects is recorded
// that far only: a file it opens after is still its own, reported without
// the line that opened it, and the report says why.
func TestOpenedPastTheStackBudget(t *testing.T) {
	stackBudget(t, 20000)
	var left closer
	defer left.close()
	var kept *os.File
	report, err := fds.Find(func() {
		memprof.Churn(200_000)
		kept, _ = os.Open(os.Args[0])
	}, fds.Within(0))
	left.keep(kept)
	if err != nil {
		t.Fatal(err)
	}
	fd := reported(t, report, int(kept.Fd()))
	if fd.Opened != nil {
		t.Errorf("a creation stack past the budget:\n%s", report)
	}
	if s := report.String(); !strings.Contains(s, "no creation stack: over 20000 heap allocations were made while the block ran (by it or by goroutines left running before it), and their stacks are recorded for that many only") {
		t.Errorf("the report does not say why there is no stack:\n%s", s)
	}
}

// A socket the block leaves open is still open once the quiet period's
// first publishing cycle has run (see cycleFrom), and one that a goroutine
// of the block opens after that cycle, during the quiet period, is new to
// the attribution: both are the block's, the first with the line that
// opened it (the second is opened after the block returned, when
// allocations are no longer recorded).
func TestSocketOpenedAfterTheFirstPublishingCycle(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var kept closer
	defer func() {
		for _, c := range kept {
			c.Close()
		}
	}()
	line := 0
	var dialed sync.WaitGroup
	dialed.Add(1)
	r, err := fds.FindSockets(func() {
		line = nextLine()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
			return
		}
		kept.keep(c)
		go func() {
			defer dialed.Done()
			time.Sleep(2500 * time.Microsecond) // past cycleFrom, within quietFor
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			kept.keep(c)
		}()
	}, fds.Within(time.Second))
	dialed.Wait()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, fd := range r.FDs {
		for _, f := range fd.Opened {
			found = found || (f.Line == line && strings.HasSuffix(f.File, "fds_test.go"))
		}
	}
	if len(r.FDs) != 2 || !found {
		t.Fatalf("want both sockets, the first opened at line %d:\n%s", line, r)
	}
}
