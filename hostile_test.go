package residue_test

import (
	"container/list"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/leak"
)

// Guarded is a package-level map the code under test guards with its own
// mutex and writes from a goroutine that existed before any check.
var (
	guardedMu sync.Mutex
	Guarded   = map[int]int{}
)

// Chain is a package-level list a block reorders.
var Chain = list.New()

// TestHostileUsesInALoop runs the hostile uses residue must survive, over
// and over for a bounded time: a map another goroutine writes during the
// snapshot, a block that waits for its own finalizer, panic(nil) and
// Goexit, a check nested on a goroutine of an outer block, more concurrent
// runs than there are marker frames, a long reordered list, and invalid
// options. None may crash, hang or give a wrong verdict.
func TestHostileUsesInALoop(t *testing.T) {
	budget := 8 * time.Second
	if testing.Short() {
		budget = time.Second
	}
	stopWriter := make(chan struct{})
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for i := 0; ; i++ {
			select {
			case <-stopWriter:
				return
			default:
			}
			guardedMu.Lock()
			Guarded[i%64] = i
			guardedMu.Unlock()
			runtime.Gosched()
		}
	}()
	defer func() {
		close(stopWriter)
		writer.Wait()
		clear(Guarded)
		Chain.Init() // other tests' snapshots need not walk it
	}()
	for i := range 20000 {
		Chain.PushBack(i)
	}

	// The writer's changes are its own, and real: the checks below leave
	// the map out, but for the one that reads it on purpose.
	quiet := globals.Ignoring("github.com/residue-go/residue_test.Guarded")
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"map written while read", func(t *testing.T) {
			// The writer changes the map between the snapshots: reported or
			// not judged, but never a crash.
			if _, err := globals.Find(func() {}, globals.InPackages("github.com/residue-go/residue_test")); err != nil {
				t.Fatal(err)
			}
		}},
		{"block waits for its finalizer", func(t *testing.T) {
			report, err := residue.Find(func() {
				done := make(chan struct{})
				x := new([64]byte)
				runtime.SetFinalizer(x, func(*[64]byte) { close(done) })
				x = nil
				runtime.GC()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					panic("the finalizer never ran")
				}
			}, residue.Within(0), only, quiet)
			if err != nil || report.Found() {
				t.Fatalf("%v\n%s", err, report)
			}
		}},
		{"panic(nil) and Goexit", func(t *testing.T) {
			var pe *probes.PanicError
			if _, err := residue.Find(func() { panic(nil) }, only, quiet); !errors.As(err, &pe) {
				t.Fatalf("panic(nil): %v", err)
			}
			var ge *probes.GoexitError
			if _, err := residue.Find(runtime.Goexit, only, quiet); !errors.As(err, &ge) {
				t.Fatalf("Goexit: %v", err)
			}
		}},
		{"nested on a goroutine of the outer block", func(t *testing.T) {
			stop := make(chan struct{})
			defer close(stop)
			report, err := leak.Find(func() {
				done := make(chan struct{})
				go func() {
					defer close(done)
					_, _ = leak.Find(func() { go func() { <-stop }() }, leak.Within(0))
				}()
				<-done
			}, leak.Within(10*time.Millisecond))
			if err != nil || len(report.Goroutines) != 1 {
				t.Fatalf("the outer check must see the inner block's goroutine: %v\n%s", err, report)
			}
		}},
		{"more runs than marker frames", func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			const n = probes.MaxExclusiveRuns + 4
			var wg sync.WaitGroup
			start := make(chan struct{})
			errs := make([]error, n)
			reports := make([]*fds.Report, n)
			conns := make([]net.Conn, n)
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					reports[i], errs[i] = findSockets(func() {
						if i%2 == 0 { // the even blocks leak a connection
							conns[i], _ = net.Dial("tcp", ln.Addr().String())
						}
						time.Sleep(5 * time.Millisecond)
					}, fds.Within(0))
				}()
			}
			close(start)
			wg.Wait()
			for i := range n {
				if conns[i] != nil {
					defer conns[i].Close()
				}
				switch {
				case errs[i] != nil:
					// Exact or an error saying it cannot be: both are right.
					if !strings.Contains(errs[i].Error(), "cannot be told apart") && !strings.Contains(errs[i].Error(), "more than") {
						t.Errorf("run %d: %v", i, errs[i])
					}
				case i%2 == 1 && len(reports[i].FDs) > 0:
					t.Errorf("clean run %d blamed:\n%s", i, reports[i])
				}
			}
		}},
		{"long reordered list", func(t *testing.T) {
			report, err := globals.Find(func() { Chain.MoveToFront(Chain.Back()) },
				globals.InPackages("github.com/residue-go/residue_test"), quiet)
			if err != nil || len(report.Changes) == 0 {
				t.Fatalf("%v\n%s", err, report)
			}
			Chain.MoveToBack(Chain.Front())
			if n := len(report.String()); n > 64<<10 {
				t.Fatalf("message of %d bytes", n)
			}
		}},
		{"invalid options", func(t *testing.T) {
			for _, o := range []residue.Option{leak.Within(-time.Second), fds.Within(-time.Second), globals.InPackages("")} {
				if _, err := residue.Find(func() {}, o); err == nil || !strings.Contains(err.Error(), o.String()) {
					t.Errorf("%s: err = %v, want an error naming it", o, err)
				}
			}
			if _, err := residue.Find(func() {}, globals.Ignoring("x"), residue.WithoutGlobals()); err == nil {
				t.Error("an option of a probe left out was accepted")
			}
		}},
	}
	deadline := time.Now().Add(budget)
	for round := 1; ; round++ {
		for _, c := range cases {
			done := make(chan struct{})
			go func() {
				defer close(done)
				t.Run(c.name, c.run)
			}()
			select {
			case <-done:
			case <-time.After(60 * time.Second):
				t.Fatalf("round %d: %q hung", round, c.name)
			}
		}
		if t.Failed() || time.Now().After(deadline) {
			t.Logf("%d rounds", round)
			return
		}
	}
}

// findSockets runs block under the probe of sockets only, as LeakSockets
// does.
func findSockets(block func(), opts ...fds.Option) (*fds.Report, error) {
	return probes.Typed[*fds.Report](probes.Find(probes.KindOf("sockets"), block, opts))
}
