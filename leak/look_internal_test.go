package leak

import (
	"testing"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// TestLookLeavesOutTheGoroutineLooking checks that a check finished on a
// goroutine started after the block (Ginkgo runs a spec's cleanup, and so
// CheckEverySpec's check, on a goroutine of its own) decides from the dump's
// headers alone, while another new goroutine still makes it look in full.
func TestLookLeavesOutTheGoroutineLooking(t *testing.T) {
	r, err := probes.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Finish()
	before := stack.IDs(stack.FullDump(nil))

	looked := make(chan *snapshot)
	go func() { looked <- look(r, before, false) }()
	if s := <-looked; s != nil {
		t.Fatalf("the goroutine looking counted as new: a full look over %d goroutines", len(s.all))
	}

	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	go func() { looked <- look(r, before, false) }()
	if s := <-looked; s == nil {
		t.Fatal("a new goroutine still alive did not make the look a full one")
	}
}

// TestRunsBesideTheBlockNeedNoLabels checks that a new goroutine of another
// check under way (a parallel test's) is never the block's and costs no read
// of the labelled goroutine profile, while one of a check started inside the
// block may be the block's and does.
func TestRunsBesideTheBlockNeedNoLabels(t *testing.T) {
	outer, err := probes.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Finish()
	before := stack.IDs(stack.FullDump(nil))
	stop := make(chan struct{})
	defer close(stop)

	never := func(*stack.Goroutine) bool { return false }
	needs := func(ro role) bool {
		s := &snapshot{all: []stack.Goroutine{{}}}
		return s.needsLabels([]role{ro}, never)
	}
	roleOf := func(inner *probes.Run) role {
		t.Helper()
		// The inner block runs on a goroutine of its own: the test's own
		// goroutine ran the outer block too.
		started := make(chan uint64)
		go inner.Enter(func() {
			go func() { started <- stack.CurrentID(); <-stop }()
		})
		id := <-started
		s := look(outer, before, false)
		if s == nil {
			t.Fatal("a new goroutine did not make the look a full one")
		}
		roles := s.ownership(outer, before)
		for i := range s.all {
			if s.all[i].ID == id {
				return roles[i]
			}
		}
		t.Fatalf("goroutine %d is not in the dump", id)
		return 0
	}

	beside, err := probes.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer beside.Finish()
	if ro := roleOf(beside); ro != roleOtherRun || needs(ro) {
		t.Errorf("goroutine of a run beside the block: role %d (want roleOtherRun %d), needs labels %v",
			ro, roleOtherRun, needs(ro))
	}

	var nested *probes.Run
	outer.Enter(func() { nested, err = probes.Start() })
	if err != nil {
		t.Fatal(err)
	}
	defer nested.Finish()
	if ro := roleOf(nested); ro != roleNestedRun || !needs(ro) {
		t.Errorf("goroutine of a run nested in the block: role %d (want roleNestedRun %d), needs labels %v",
			ro, roleNestedRun, needs(ro))
	}
}

// TestIgnoredGoroutinesNeedNoLabels checks that a new goroutine the options
// ignore, such as os/signal's loop that the first test to ask for signals
// starts, does not make a check read the labelled profile.
func TestIgnoredGoroutinesNeedNoLabels(t *testing.T) {
	cfg, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &snapshot{all: stack.ParseDump(`goroutine 447 [syscall]:
os/signal.signal_recv()
	/usr/local/go/src/runtime/sigqueue.go:152 +0x98
os/signal.loop()
	/usr/local/go/src/os/signal/signal_unix.go:23 +0x13
created by os/signal.Notify.func1.1 in goroutine 363
	/usr/local/go/src/os/signal/signal.go:152 +0x1f
`)}
	if len(s.all) != 1 {
		t.Fatalf("parsed %d goroutines, want 1", len(s.all))
	}
	if s.needsLabels([]role{roleUnowned}, cfg.ignored) {
		t.Error("os/signal's loop, ignored by default, made the check read labels")
	}
	if !s.needsLabels([]role{roleUnowned}, func(*stack.Goroutine) bool { return false }) {
		t.Error("an unowned goroutine no option ignores did not make the check read labels")
	}
}

// TestGoroutinesOfOldGoroutinesAreForeign checks that a goroutine started,
// after the run began, by a goroutine older than the run that runs no
// block is never the block's and needs no labels: it inherited its
// creator's labels, which are not the run's.
func TestGoroutinesOfOldGoroutinesAreForeign(t *testing.T) {
	spawn, stop := make(chan struct{}), make(chan struct{})
	defer close(stop)
	started := make(chan uint64)
	go func() { // older than the run
		<-spawn
		go func() { started <- stack.CurrentID(); <-stop }()
		<-stop
	}()
	r, err := probes.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Finish()
	before := stack.IDs(stack.FullDump(nil))
	close(spawn)
	id := <-started
	s := look(r, before, false)
	if s == nil {
		t.Fatal("a new goroutine did not make the look a full one")
	}
	roles := s.ownership(r, before)
	for i := range s.all {
		if s.all[i].ID == id {
			if roles[i] != roleForeign || s.needsLabels(roles, func(*stack.Goroutine) bool { return false }) {
				t.Errorf("role %d (want roleForeign %d), needs labels %v", roles[i], roleForeign,
					s.needsLabels(roles, func(*stack.Goroutine) bool { return false }))
			}
			return
		}
	}
	t.Fatalf("goroutine %d is not in the dump", id)
}

// TestAGoroutineWhoseStackMovedIsClaimedOnce: the dump saw a goroutine of
// the block at one line, the goroutine profile read after it at another
// (it was still starting): it is the block's once, not once per stack; a
// labelled goroutine that started after the dump is still claimed.
func TestAGoroutineWhoseStackMovedIsClaimedOnce(t *testing.T) {
	dump := "goroutine 7 [runnable]:\n" +
		"example.com/m.worker(...)\n\t/src/m.go:10 +0x1\n" +
		"created by example.com/m.start in goroutine 1\n\t/src/m.go:5 +0x2\n"
	at := func(line int) []stack.Frame {
		return []stack.Frame{{Func: "example.com/m.worker", File: "/src/m.go", Line: line}}
	}
	for _, c := range []struct {
		name     string
		labelled []stack.Group
		want     int
	}{
		{"moved", []stack.Group{{Count: 1, Frames: at(12)}}, 1},
		{"moved, and one more started", []stack.Group{{Count: 2, Frames: at(12)}}, 2},
		{"where the dump saw it", []stack.Group{{Count: 1, Frames: at(10)}}, 1},
	} {
		s := &snapshot{all: stack.ParseDump(dump), labelled: c.labelled}
		if got := len(s.claims([]role{roleOwned})); got != c.want {
			t.Errorf("%s: %d goroutines claimed, want %d", c.name, got, c.want)
		}
	}
}
