package matchers_test

import (
	"os"
	"os/signal"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gleak"
	"go.uber.org/goleak"

	"github.com/residue-go/residue/leak"
	. "github.com/residue-go/residue/matchers"
)

// The scenarios of goleak's and gleak's own test suites, run through all
// three tools side by side. Where verdicts differ, the test pins down who is
// right; docs/parity.md lists the differences.

type verdicts struct{ residue, goleak, gleak bool }

// judgeAll runs block once per tool, the way each tool is meant to be used.
func judgeAll(t *testing.T, block func()) verdicts {
	t.Helper()
	var v verdicts
	ok, err := LeakGoroutines(leak.Within(100 * time.Millisecond)).Match(block)
	if err != nil {
		t.Fatal(err)
	}
	v.residue = ok

	opt := goleak.IgnoreCurrent()
	block()
	v.goleak = goleak.Find(opt) != nil

	snapshot := gleak.Goroutines()
	block()
	g := NewGomega(func(string, ...int) { v.gleak = true })
	g.Eventually(gleak.Goroutines).WithTimeout(100 * time.Millisecond).ShouldNot(gleak.HaveLeaked(snapshot))
	return v
}

//go:noinline
func parked(ch chan struct{}) { <-ch }

func TestParityLeakedBlockedGoroutine(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	if v := judgeAll(t, func() { go parked(stop) }); v != (verdicts{true, true, true}) {
		t.Fatalf("verdicts %+v", v)
	}
}

func TestParityGoroutineEndingShortlyAfterIsNoLeak(t *testing.T) {
	v := judgeAll(t, func() { go func() { time.Sleep(time.Millisecond) }() })
	if v != (verdicts{false, false, false}) {
		t.Fatalf("verdicts %+v", v)
	}
}

func TestParityGoroutinesFromBeforeAreIgnored(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	for range 5 {
		go parked(stop)
	}
	if v := judgeAll(t, func() {}); v != (verdicts{false, false, false}) {
		t.Fatalf("verdicts %+v", v)
	}
}

func TestParityNewLeakAfterOldGoroutinesExited(t *testing.T) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() { defer wg.Done(); <-done }()
	}
	close(done)
	wg.Wait()
	stop := make(chan struct{})
	defer close(stop)
	if v := judgeAll(t, func() { go parked(stop) }); v != (verdicts{true, true, true}) {
		t.Fatalf("verdicts %+v", v)
	}
}

func TestParityTransitiveLeak(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	v := judgeAll(t, func() {
		started := make(chan struct{})
		go func() { go parked(stop); close(started) }()
		<-started
	})
	if v != (verdicts{true, true, true}) {
		t.Fatalf("verdicts %+v", v)
	}
}

func TestParitySignalNotifyIsNoLeak(t *testing.T) {
	v := judgeAll(t, func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		signal.Reset(os.Interrupt)
	})
	if v != (verdicts{false, false, false}) {
		t.Fatalf("verdicts %+v", v)
	}
}

// A sibling test running in parallel starts a goroutine while the block
// runs. The process-wide peers blame the block; residue does not.
func TestParityConcurrentSiblingIsNotBlamed(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	// judge hands each tool a block during which an unrelated goroutine,
	// started before the block, starts one of its own.
	judge := func(check func(block func())) {
		begin, started := make(chan struct{}), make(chan struct{})
		go func() {
			<-begin
			go parked(stop)
			close(started)
		}()
		check(func() { close(begin); <-started })
	}
	var got verdicts
	judge(func(block func()) {
		ok, err := LeakGoroutines(leak.Within(100 * time.Millisecond)).Match(block)
		if err != nil {
			t.Fatal(err)
		}
		got.residue = ok
	})
	judge(func(block func()) {
		opt := goleak.IgnoreCurrent()
		block()
		got.goleak = goleak.Find(opt) != nil
	})
	judge(func(block func()) {
		snapshot := gleak.Goroutines()
		block()
		g := NewGomega(func(string, ...int) { got.gleak = true })
		g.Eventually(gleak.Goroutines).WithTimeout(100 * time.Millisecond).ShouldNot(gleak.HaveLeaked(snapshot))
	})
	if got != (verdicts{false, true, true}) {
		t.Fatalf("verdicts %+v: want residue clean and both peers blaming the block", got)
	}
	// The control: the same goroutine started from inside the block is the
	// block's, for every tool.
	if v := judgeAll(t, func() { go parked(stop) }); v != (verdicts{true, true, true}) {
		t.Fatalf("control verdicts %+v", v)
	}
}

// gleak's message test: id, state, top frame at file:line, creator at
// file:line. residue's message carries the same, plus the block's line.
func TestParityFailureMessageContents(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	m := LeakGoroutines(leak.Within(20 * time.Millisecond))
	ok, err := m.Match(func() { go parked(stop) })
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	NewWithT(t).Expect(msg).To(MatchRegexp(`goroutine \d+ \[chan receive[^\]]*\]\n` +
		`    github.com/residue-go/residue/matchers_test.parked\n        .*/parity_test.go:\d+\n` +
		`    created by github.com/residue-go/residue/matchers_test.TestParityFailureMessageContents.func\d+ — in the block\n        .*/parity_test.go:\d+`))
}

// The filters of both peers map onto residue's options.
func TestParityFilters(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	block := func() { go parked(stop) }
	const top = "github.com/residue-go/residue/matchers_test.parked"
	const creator = "github.com/residue-go/residue/matchers_test.TestParityFilters.func1"
	cases := []struct {
		name    string
		residue leak.Option
		goleak  goleak.Option
		gleak   any
	}{
		{"top function", leak.IgnoringTopFunction(top), goleak.IgnoreTopFunction(top), gleak.IgnoringTopFunction(top)},
		{"top function and state", leak.IgnoringTopFunction(top + " [chan receive]"), goleak.IgnoreTopFunction(top), gleak.IgnoringTopFunction(top + " [chan receive]")},
		{"creator", leak.IgnoringCreator(creator), goleak.IgnoreAnyFunction(creator), gleak.IgnoringCreator(creator)},
		{"anywhere in the stack", leak.IgnoringAnyFunction(top), goleak.IgnoreAnyFunction(top), gleak.IgnoringInBacktrace(top)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, err := LeakGoroutines(c.residue, leak.Within(20*time.Millisecond)).Match(block)
			if err != nil || ok {
				t.Errorf("residue: leak=%v err=%v", ok, err)
			}
			opt := goleak.IgnoreCurrent()
			block()
			if err := goleak.Find(opt, c.goleak); err != nil && !strings.Contains(c.name, "creator") {
				t.Errorf("goleak still reports: %v", err)
			}
			snapshot := gleak.Goroutines()
			block()
			g := NewGomega(func(msg string, _ ...int) { t.Errorf("gleak: %s", msg) })
			g.Eventually(gleak.Goroutines).ShouldNot(gleak.HaveLeaked(snapshot, c.gleak))
		})
	}
}
