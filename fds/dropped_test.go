//go:build linux

package fds_test

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/internal/golden"
)

// A socket and a file the block dropped without Close are reported as soon
// as nothing refers to them, not after the settle window, and say so; where
// the heap is not dumped (a runtime with a goroutine leak profile), after the
// window, as any other.
func TestDroppedDescriptorsAreReportedWithoutWaitingTheWindow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	within := 5 * time.Second
	if !fds.CanDumpHeap {
		within = 300 * time.Millisecond
	}
	r, err := fds.Find(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		_ = c // dropped without Close
		f, _ := os.Open(path)
		_ = f // dropped without Close
	}, fds.Within(within), fds.IgnoringPath("/dev/*"))
	if err != nil || len(r.FDs) != 2 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if !fds.CanDumpHeap {
		if r.FDs[0].Dropped || r.FDs[1].Dropped || r.Waited < within {
			t.Errorf("found dropped without a heap dump, or waited %v of %v:\n%s", r.Waited, within, r)
		}
		runtime.GC()
		return
	}
	for _, fd := range r.FDs {
		if !fd.Dropped {
			t.Errorf("fd %d (%s) not found dropped", fd.Num, fd.Kind)
		}
	}
	if r.Waited >= within/2 {
		t.Errorf("waited %v of the %v window for descriptors nothing refers to", r.Waited, within)
	}
	msg := r.String()
	if strings.Count(msg, "dropped without Close: nothing refers to it any more") != 2 || strings.Contains(msg, "settle window") {
		t.Errorf("message:\n%s", msg)
	}
	golden.Check(t, "dropped", msg)
	runtime.GC() // their finalizers close them once the probe lets go
}

// A socket the program still refers to may yet be closed: the probe waits
// the window for it, and does not call it dropped.
func TestReachableDescriptorWaitsTheWindow(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var kept net.Conn
	defer func() {
		if kept != nil {
			kept.Close()
		}
	}()
	const within = 300 * time.Millisecond
	r, err := fds.FindSockets(func() {
		kept, _ = net.Dial("tcp", ln.Addr().String())
	}, fds.Within(within))
	if err != nil || len(r.FDs) != 1 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if r.FDs[0].Dropped || r.Waited < within {
		t.Errorf("dropped %v, waited %v of %v", r.FDs[0].Dropped, r.Waited, within)
	}
	if msg := r.String(); !strings.Contains(msg, "still open after the 300ms settle window") || strings.Contains(msg, "dropped without Close") {
		t.Errorf("message:\n%s", msg)
	}
}

// The heap dump reader finds a dropped descriptor's owner in the
// finalizer queue of a real dump, only while its finalizer waits, and
// refuses what is not a heap dump.
func TestHeapDumpNamesQueuedOwners(t *testing.T) {
	if !fds.CanDumpHeap {
		t.Skip("a heap dump aborts a process whose goroutine leak profile found a leaked goroutine")
	}
	dump := func() []byte {
		f, err := os.CreateTemp(t.TempDir(), "dump")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		debug.WriteHeapDump(f.Fd())
		b, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var kept net.Conn
	dropped := -1
	// Hold the finalizer goroutine so that the dropped socket's finalizer
	// stays queued.
	running, release := make(chan struct{}), make(chan struct{})
	defer close(release)
	runtime.SetFinalizer(&struct{ _ *int }{}, func(any) { close(running); <-release })
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		select {
		case <-running:
		case <-time.After(10 * time.Millisecond):
			if time.Now().Before(deadline) {
				continue
			}
			t.Fatal("the finalizer goroutine is busy")
		}
		break
	}
	func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		dropped = fdOf(t, c)
		kept, _ = net.Dial("tcp", ln.Addr().String())
	}()
	defer kept.Close()
	runtime.GC()
	got, err := fds.QueuedOwners(bytes.NewReader(dump()), dropped, fdOf(t, kept))
	if err != nil || len(got) != 1 || !got[dropped] {
		t.Errorf("queued owners of fds %d (dropped) and %d (kept): %v, err %v", dropped, fdOf(t, kept), got, err)
	}
	if _, err := fds.QueuedOwners(strings.NewReader("not a heap dump at all\n"), dropped); err == nil {
		t.Error("no error for a file that is not a heap dump")
	}
	b := dump()
	if _, err := fds.QueuedOwners(bytes.NewReader(b[:len(b)/2]), dropped); err == nil {
		t.Error("no error for a truncated dump")
	}
}
