package fds_test

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/residue-go/residue/fds"
	_ "github.com/residue-go/residue/globals" // reads the debug info the finalizer queue is found by
	"github.com/residue-go/residue/internal/debuginfo"
	"github.com/residue-go/residue/internal/env"
)

// needsDebugInfo skips a test that reads the finalizer queue when the binary
// has no debug info, unless the run requires it (scripts/test does).
func needsDebugInfo(t *testing.T) {
	t.Helper()
	if _, ok := debuginfo.Variable("runtime.allfin"); !ok {
		if os.Getenv(env.RequireGlobals) == "1" {
			t.Fatal("runtime.allfin not found: the binary has no debug info (go test -ldflags=-w=0)")
		}
		t.Skip("the binary has no debug info: go test -ldflags=-w=0")
	}
}

// loopback is a TCP listener on the loopback interface, closed when the
// test ends.
func loopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// A descriptor whose os.File or net.Conn nothing can reach is closed by
// nothing but its finalizer, which the probe holds: it is reported at once,
// marked dropped, instead of after the settle window.
func TestDroppedDescriptorsAreReportedWithoutWaitingOutTheWindow(t *testing.T) {
	needsDebugInfo(t)
	ln := loopback(t)
	const window = 5 * time.Second
	r, err := fds.Find(func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		_ = c // dropped without Close
		f, err := os.Open(os.DevNull)
		if err != nil {
			t.Error(err)
		}
		_ = f // dropped without Close
	}, fds.Within(window))
	if err != nil || len(r.FDs) != 2 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	for _, fd := range r.FDs {
		if !fd.Dropped {
			t.Errorf("fd %d (%s) not marked dropped:\n%s", fd.Num, fd.Kind, r)
		}
	}
	if r.Waited >= window/2 {
		t.Errorf("waited %v of the %v window for descriptors nothing could close", r.Waited, window)
	}
}

var kept net.Conn

// One the program still holds could yet be closed: the window is waited,
// and it is not marked dropped. A ticker keeps the process from being
// still, as a program's own goroutines would; without one the window ends
// early (internal/probes' TestAWindowEndsEarlyOnlyWhenNothingCanRun).
func TestHeldDescriptorWaitsOutTheWindow(t *testing.T) {
	needsDebugInfo(t)
	ln := loopback(t)
	const window = 300 * time.Millisecond
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	go func() {
		for range tick.C {
		}
	}()
	var dialErr error
	r, err := fds.FindSockets(func() {
		kept, dialErr = net.Dial("tcp", ln.Addr().String())
	}, fds.Within(window))
	if dialErr != nil {
		t.Fatal(dialErr)
	}
	defer kept.Close()
	if err != nil || len(r.FDs) != 1 || r.FDs[0].Dropped || r.Stilled {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if r.Waited < window {
		t.Errorf("waited %v, less than the %v window, for a descriptor the program can still close", r.Waited, window)
	}
}

// A number with two owners, one dropped and one the program still holds and
// closes within the window, is not taken for dropped: the window is waited,
// the descriptor closes, nothing is reported.
func TestASecondOwnerThatStillClosesIsWaitedFor(t *testing.T) {
	needsDebugInfo(t)
	ln := loopback(t)
	for name, block := range map[string]func(){
		"os.NewFile over a file's number, the file dropped": func() {
			f, err := os.Open(os.DevNull)
			if err != nil {
				t.Error(err)
				return
			}
			alias := os.NewFile(f.Fd(), "alias")
			_ = f // dropped: its finalizer would close the number too
			go func() { time.Sleep(200 * time.Millisecond); alias.Close() }()
		},
		"os.NewFile over a connection's number, the file dropped": func() {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Error(err)
				return
			}
			rc, _ := c.(*net.TCPConn).SyscallConn()
			rc.Control(func(fd uintptr) { _ = os.NewFile(fd, "wrapper") })
			go func() { time.Sleep(200 * time.Millisecond); c.Close() }()
		},
	} {
		r, err := fds.Find(block, fds.Within(2*time.Second))
		if err != nil || len(r.FDs) > 0 {
			t.Errorf("%s: err %v, report:\n%s", name, err, r)
		}
	}
}

// While a goroutine of the block's is alive it may open more: the window is
// waited, and what it opened meanwhile is reported with the rest.
func TestDroppedWhileTheBlocksGoroutineStillRunsWaitsForIt(t *testing.T) {
	needsDebugInfo(t)
	ln := loopback(t)
	r, err := fds.Find(func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		_ = c // dropped without Close
		go func() {
			time.Sleep(150 * time.Millisecond)
			f, _ := os.Open(os.DevNull)
			_ = f // dropped too, later
		}()
	}, fds.Within(time.Second))
	if err != nil || len(r.FDs) != 2 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
}
