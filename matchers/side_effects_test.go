package matchers_test

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/globals"
	. "github.com/residue-go/residue/matchers"
)

// Mode is a package-level variable the tests change.
var Mode = "fast"

var ownGlobals = globals.InPackages("github.com/residue-go/residue/matchers_test")

func TestHaveSideEffects(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() {
		done := make(chan struct{})
		go func() { close(done) }()
		<-done
	}).NotTo(HaveSideEffects(ownGlobals))

	stop := make(chan struct{})
	defer close(stop)
	m := HaveSideEffects(ownGlobals, residue.Within(20*time.Millisecond))
	f, err := os.CreateTemp(t.TempDir(), "left-open")
	g.Expect(err).NotTo(HaveOccurred())
	f.Close()
	var leaked *os.File
	defer func() { leaked.Close() }()
	g.Expect(m.Match(func() {
		go parked(stop)
		leaked, _ = os.Open(f.Name())
		Mode = "slow"
	})).To(BeTrue())
	defer func() { Mode = "fast" }()
	msg := m.NegatedFailureMessage(nil)
	for _, want := range []string{
		"Expected the block to have no side effects.\nThe block left side effects (goroutines, file descriptors, global state):",
		"\n\nGoroutines\n  The block left 1 goroutine running",
		"\n\nFile descriptors\n  The block left 1 file descriptor open",
		f.Name(),
		"side_effects_test.go:",
		"\n\nGlobal state\n  The block changed 1 package-level variable",
		`matchers_test.Mode: "fast" → "slow"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func TestHaveSideEffectsErrors(t *testing.T) {
	g := NewWithT(t)
	_, err := HaveSideEffects().Match("not a block")
	g.Expect(err).To(MatchError(`HaveSideEffects expects a block of type func(), got string "not a block"`))
	_, err = HaveSideEffects(ownGlobals).Match(func() { panic("boom") })
	g.Expect(err).To(MatchError(HavePrefix("HaveSideEffects: the block panicked: boom")))
}

// 10,000 calls of HaveSideEffects leave goroutines, descriptors and the heap
// where they were.
func TestHaveSideEffectsSoak(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("soak: too slow under -race or -short; scripts/test runs it without them")
	}
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(entries)
	}
	measure := func() (int, int, uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return runtime.NumGoroutine(), fds(), ms.HeapAlloc
	}
	block := func() {}
	m := HaveSideEffects(ownGlobals)
	for range 100 {
		_, _ = m.Match(block)
	}
	g0, f0, h0 := measure()
	for range 10000 {
		if found, err := m.Match(block); err != nil || found {
			t.Fatal(found, err, m.NegatedFailureMessage(nil))
		}
	}
	g1, f1, h1 := measure()
	t.Logf("goroutines %d → %d, fds %d → %d, heap %d → %d bytes", g0, g1, f0, f1, h0, h1)
	if g1 != g0 || f1 != f0 || h1 > h0+512<<10 {
		t.Errorf("growth after 10,000 calls: goroutines %d → %d, fds %d → %d, heap %d → %d bytes", g0, g1, f0, f1, h0, h1)
	}
}
