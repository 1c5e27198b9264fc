package matchers_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/leak"
	. "github.com/residue-go/residue/matchers"
)

// Eight parallel tests, half leaking through identical code, half clean,
// 100 times over: each leaking test is failed with its own goroutine only and
// each clean one passes.
func TestParallelTestsAreJudgedApart(t *testing.T) {
	for round := range 100 {
		stop := make(chan struct{})
		leaked := make([]uint64, 8)
		messages := make([]string, 8)
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			for i := range 8 {
				t.Run(fmt.Sprint("spec", i), func(t *testing.T) {
					t.Parallel()
					m := LeakGoroutines(leak.Within(20 * time.Millisecond))
					ok, err := m.Match(func() {
						if i%2 == 1 {
							return
						}
						started := make(chan struct{})
						go func() {
							leaked[i] = stack.CurrentID()
							close(started)
							parked(stop)
						}()
						<-started
					})
					if err != nil {
						t.Fatal(err)
					}
					if ok != (i%2 == 0) {
						t.Fatalf("spec %d: leak verdict %v", i, ok)
					}
					if ok {
						messages[i] = m.NegatedFailureMessage(nil)
					}
				})
			}
		})
		close(stop)
		for i := 0; i < 8; i += 2 {
			// The window was waited out, or ended early once nothing could
			// run: the headline says which.
			headline := "The block left 1 goroutine running after it returned ("
			want := fmt.Sprintf("settle window):\n\ngoroutine %d [", leaked[i])
			if early := fmt.Sprintf("could run before it ended):\n\ngoroutine %d [", leaked[i]); strings.Contains(messages[i], early) {
				want = early
			}
			if !strings.Contains(messages[i], headline) || !strings.Contains(messages[i], want) {
				t.Fatalf("round %d spec %d: message should name goroutine %d only:\n%s", round, i, leaked[i], messages[i])
			}
		}
	}
}

func TestMatcherWithNewWithT(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() {}).NotTo(LeakGoroutines())

	stop := make(chan struct{})
	defer close(stop)
	m := LeakGoroutines(leak.Within(10 * time.Millisecond))
	g.Expect(m.Match(func() { go parked(stop) })).To(BeTrue())
	g.Expect(m.NegatedFailureMessage(nil)).To(HavePrefix("Expected the block not to leak goroutines.\nThe block left 1 goroutine running"))
	g.Expect(m.Match(func() {})).To(BeFalse())
	g.Expect(m.FailureMessage(nil)).To(Equal("Expected the block to leak goroutines, but it left none running (settle window 10ms)"))
}

func TestMatcherErrors(t *testing.T) {
	g := NewWithT(t)
	_, err := LeakGoroutines().Match(nil)
	g.Expect(err).To(MatchError("LeakGoroutines expects a block of type func(), got nil"))
	_, err = LeakGoroutines().Match(func(t *testing.T) {})
	g.Expect(err).To(MatchError(ContainSubstring("got a func(*testing.T)")))
	_, err = LeakGoroutines().Match(func() { panic("boom") })
	g.Expect(err).To(MatchError(ContainSubstring("the block panicked: boom")))
	_, err = LeakGoroutines().Match(func() { runtime.Goexit() })
	g.Expect(err).To(MatchError(ContainSubstring("runtime.Goexit")))

	// Through Expect, an error fails the assertion instead of passing it.
	var failure string
	NewGomega(func(msg string, _ ...int) { failure = msg }).Expect(func() { panic("boom") }).NotTo(LeakGoroutines())
	g.Expect(failure).To(ContainSubstring("the block panicked: boom"))
}

func TestBlockRunsExactlyOnce(t *testing.T) {
	var mu sync.Mutex
	n := 0
	NewWithT(t).Expect(func() { mu.Lock(); n++; mu.Unlock() }).NotTo(LeakGoroutines())
	if n != 1 {
		t.Fatalf("block ran %d times", n)
	}
}

// residue must not leak itself: 10,000 matcher calls leave the number of
// goroutines and the heap where they were.
func TestNoLeakOfItsOwn(t *testing.T) {
	measure := func() (int, uint64) {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return runtime.NumGoroutine(), m.HeapAlloc
	}
	clean := func() {}
	for range 100 { // warm pools and caches
		_, _ = LeakGoroutines().Match(clean)
	}
	g0, h0 := measure()
	for range 10000 {
		if leaked, err := LeakGoroutines().Match(clean); err != nil || leaked {
			t.Fatal(leaked, err)
		}
	}
	g1, h1 := measure()
	if g1 != g0 {
		t.Errorf("goroutines %d → %d after 10,000 calls", g0, g1)
	}
	if h1 > h0+256<<10 {
		t.Errorf("heap %d → %d bytes after 10,000 calls", h0, h1)
	}
	t.Logf("goroutines %d → %d, heap %d → %d bytes", g0, g1, h0, h1)
}
