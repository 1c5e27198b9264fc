//go:build linux

package fds_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue/fds"
)

// waitForOwn is a block that depends on the runtime running a finalizer or
// cleanup it set: it drops an object, runs a GC, and waits for it.
func waitForOwn(kind string, failed *bool) func() {
	return func() {
		done := make(chan struct{})
		obj := &struct{ p *int }{}
		if kind == "cleanup" {
			runtime.AddCleanup(obj, func(done chan struct{}) { close(done) }, done)
		} else {
			runtime.SetFinalizer(obj, func(*struct{ p *int }) { close(done) })
		}
		obj = nil
		runtime.GC()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			*failed = true
		}
	}
}

func TestBlockThatWaitsForItsFinalizerRunsAsWithoutAProbe(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	// A leaking run first, so that the finalizer queue is held when the
	// blocks below start.
	r, _ := fds.FindSockets(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		_ = c
		runtime.GC()
	}, fds.Within(0))
	if len(r.FDs) == 0 {
		t.Fatalf("dropped socket not reported:\n%s", r)
	}
	for _, kind := range []string{"finalizer", "cleanup"} {
		for name, find := range map[string]func(func(), ...fds.Option) (*fds.Report, error){"Find": fds.Find, "FindSockets": fds.FindSockets} {
			t.Run(kind+"/"+name, func(t *testing.T) {
				failed := false
				start := time.Now()
				r, err := find(waitForOwn(kind, &failed), fds.Within(0))
				if err != nil || failed || len(r.FDs) > 0 {
					t.Fatalf("waited %v for its %s (failed %v), err %v, report:\n%s", time.Since(start), kind, failed, err, r)
				}
				if took := time.Since(start); took > time.Second {
					t.Errorf("took %v", took)
				}
			})
		}
	}
}

func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestCleanVerdictForcesNoGC turns the collector off: any cycle during the
// runs below is one the probe forced.
func TestCleanVerdictForcesNoGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	dir := t.TempDir()
	clean := func() {
		f, _ := os.Create(filepath.Join(dir, "f"))
		f.Close()
		c, _ := net.Dial("tcp", ln.Addr().String())
		s, _ := ln.Accept()
		s.Close()
		c.Close()
	}
	if r, err := fds.Find(clean, fds.Within(0)); err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	// A run that leaves a dropped socket, whose finalizer then runs.
	if r, _ := fds.FindSockets(func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		_ = c
		runtime.GC()
	}, fds.Within(0)); len(r.FDs) == 0 {
		t.Fatalf("dropped socket not reported:\n%s", r)
	}
	if s, _ := ln.Accept(); s != nil {
		s.Close()
	}
	runtime.GC()
	before := gcCycles()
	for range 50 {
		if r, err := fds.Find(clean, fds.Within(time.Second)); err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	}
	if n := gcCycles() - before; n != 0 {
		t.Errorf("50 clean runs forced %d GC cycles", n)
	}
}

// TestSettleWindowIsWaitedOnlyForWhatWouldBeReported leaves descriptors that
// are not reported: the window is not waited out for them.
func TestSettleWindowIsWaitedOnlyForWhatWouldBeReported(t *testing.T) {
	dir := t.TempDir()
	var left closer
	defer left.close()
	start := time.Now()
	r, err := fds.Find(func() {
		f, _ := os.Create(filepath.Join(dir, "cache.db"))
		left.keep(f)
	}, fds.Within(2*time.Second), fds.IgnoringPath(filepath.Join(dir, "*.db")))
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("an ignored file cost %v (Waited %v)", took, r.Waited)
	}

	// Opened by a goroutine that is not the block's, while another probed
	// block runs: not the block's, so not waited for either.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	other := make(chan struct{})
	release := make(chan struct{})
	go fds.Find(func() { close(other); <-release }, fds.Within(0))
	<-other
	opened := make(chan net.Conn)
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		opened <- c
	}()
	start = time.Now()
	r, err = fds.FindSockets(func() {
		left.keep(<-opened)
		s, _ := ln.Accept()
		left.keep(s)
	}, fds.Within(2*time.Second))
	close(release)
	if err != nil || len(r.FDs) > 0 {
		t.Fatalf("err %v, report:\n%s", err, r)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("descriptors that are not the block's cost %v (Waited %v)", took, r.Waited)
	}
}

// TestManyParallelBlocksAreExactOrSaySo runs more probed blocks at once than
// there are marker frames: each verdict is exact, or an error says it
// cannot be.
func TestManyParallelBlocksAreExactOrSaySo(t *testing.T) {
	dir := t.TempDir()
	const n = 24
	var (
		done, arrived sync.WaitGroup
		files         [n]*os.File
		reports       [n]*fds.Report
		errs          [n]error
	)
	done.Add(n)
	arrived.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			reports[i], errs[i] = fds.Find(func() {
				f, _ := os.Create(filepath.Join(dir, fmt.Sprint(i)))
				arrived.Done()
				arrived.Wait() // every block has opened its file
				if i%3 == 0 {
					files[i] = f
					return
				}
				f.Close()
			}, fds.Within(100*time.Millisecond))
		}()
	}
	done.Wait()
	shared := 0
	for i := range n {
		if files[i] != nil {
			defer files[i].Close()
		}
		r, err := reports[i], errs[i]
		if err != nil {
			if !strings.Contains(err.Error(), "blocks were run at once") {
				t.Fatalf("block %d: %v", i, err)
			}
			shared++
			continue
		}
		if i%3 != 0 {
			if len(r.FDs) > 0 {
				t.Errorf("clean block %d blamed:\n%s", i, r)
			}
			continue
		}
		want := int(files[i].Fd())
		if len(r.FDs) != 1 || (r.FDs[0].Num != want && !slices.Contains(r.FDs[0].OneOf, want)) {
			t.Errorf("block %d: want fd %d:\n%s", i, want, r)
		}
	}
	if shared == 0 {
		t.Errorf("no run shared a marker frame: the test did not run more than %d blocks at once", n)
	}
}

// TestAnotherBlockingFinalizerCostsOneWait blocks the finalizer goroutine
// with a finalizer of the test's own: the probe cannot put its sentinel in
// place (the queue is held all the same), and only the first run waits for
// it.
func TestAnotherBlockingFinalizerCostsOneWait(t *testing.T) {
	release := make(chan struct{})
	running := make(chan struct{})
	obj := &struct{ p *int }{}
	runtime.SetFinalizer(obj, func(*struct{ p *int }) { close(running); <-release })
	obj = nil
	// Let the probe's hold go first: a finalizer waits, and no run is under
	// way.
	runtime.GC()
	select {
	case <-running:
	case <-time.After(5 * time.Second):
		t.Fatal("the test's finalizer did not run")
	}
	defer close(release)
	start := time.Now()
	for range 4 {
		if r, err := fds.Find(func() {}, fds.Within(0)); err != nil || len(r.FDs) > 0 {
			t.Fatalf("err %v, report:\n%s", err, r)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("4 clean runs took %v", took)
	}
}
