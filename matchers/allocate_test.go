package matchers_test

import (
	"errors"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/alloc"
	. "github.com/residue-go/residue/matchers"
)

var (
	allocSink    []byte
	allocSinkStr string
)

//go:noinline
func sumInts(xs []int) (s int) {
	for _, x := range xs {
		s += x
	}
	return s
}

//go:noinline
func joinWords(words []string) string {
	return strings.Join(words, " ") + "!"
}

func TestNotToAllocatePassesOnAZeroAllocationFunction(t *testing.T) {
	alloc.SkipUnderRace(t)
	g := NewWithT(t)
	xs := []int{1, 2, 3}
	g.Expect(func() { sumInts(xs) }).NotTo(Allocate())
}

func TestNotToAllocateNamesEverySite(t *testing.T) {
	alloc.SkipUnderRace(t)
	m := Allocate()
	ok, err := m.Match(func() { allocSinkStr = joinWords([]string{"a", "b", "c"}) })
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	for _, want := range []string{
		// Both strings are pointer-free and under 16 bytes: the runtime packs
		// them into one 16-byte block and records that block.
		"Expected the block not to allocate, but it allocated 1 object, 16 B in 1 site",
		"1 object, 16 B  strings.(*Builder).grow  strings/builder.go:",
		"from github.com/residue-go/residue/matchers_test.joinWords  matchers/allocate_test.go:29",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	t.Log("\n" + msg)
}

func TestToAllocateFailsOnAZeroAllocationFunction(t *testing.T) {
	alloc.SkipUnderRace(t)
	m := Allocate()
	xs := []int{1}
	ok, err := m.Match(func() { sumInts(xs) })
	if err != nil || ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if msg := m.FailureMessage(nil); msg != "Expected the block to allocate, but it allocated nothing" {
		t.Fatal(msg)
	}
}

func TestAllocateAtMostFailsOverTheLimitWithTheSites(t *testing.T) {
	alloc.SkipUnderRace(t)
	g := NewWithT(t)
	g.Expect(func() { allocSink = make([]byte, 64) }).To(AllocateAtMost(1))

	m := AllocateAtMost(1)
	ok, err := m.Match(func() {
		allocSink = make([]byte, 64)
		allocSinkStr = joinWords([]string{"over", "budget"})
	})
	if err != nil || ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.FailureMessage(nil)
	for _, want := range []string{
		"Expected the block to allocate at most 1 object, but it allocated 3 objects, 96 B in 3 sites",
		"1 object, 64 B  github.com/residue-go/residue/matchers_test.TestAllocateAtMostFailsOverTheLimitWithTheSites.func2  matchers/allocate_test.go:81",
		"1 object, 16 B  strings.(*Builder).grow  strings/builder.go:",
		"1 object, 16 B  github.com/residue-go/residue/matchers_test.joinWords  matchers/allocate_test.go:29",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	t.Log("\n" + msg)
}

func TestAllocateAtMostWithAFunctionLimit(t *testing.T) {
	alloc.SkipUnderRace(t)
	m := AllocateAtMost(10, alloc.AtMostIn("strings.Join", 0))
	ok, err := m.Match(func() { allocSinkStr = joinWords([]string{"x", "y"}) })
	if err != nil || ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.FailureMessage(nil)
	if !strings.HasPrefix(msg, "Expected the block to stay within alloc.AtMostIn(\"strings.Join\", 0), but it allocated 1 object, 16 B in strings.Join, over the limit of 0 objects\n") {
		t.Fatal(msg)
	}
	t.Log("\n" + msg)
}

func TestAllocateBytesAtMost(t *testing.T) {
	alloc.SkipUnderRace(t)
	g := NewWithT(t)
	g.Expect(func() { allocSink = make([]byte, 100) }).To(AllocateBytesAtMost(112))
	m := AllocateBytesAtMost(100)
	ok, err := m.Match(func() { allocSink = make([]byte, 100) })
	if err != nil || ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if msg := m.FailureMessage(nil); !strings.HasPrefix(msg, "Expected the block to allocate at most 100 B, but it allocated 1 object, 112 B in 1 site") {
		t.Fatal(msg)
	}
}

func TestAllocateWarmUpAndRuns(t *testing.T) {
	alloc.SkipUnderRace(t)
	g := NewWithT(t)
	first := true
	block := func() {
		if first {
			first = false
			allocSink = make([]byte, 1000)
		}
	}
	g.Expect(block).NotTo(Allocate(alloc.WarmUp(1), alloc.Runs(3)))
}

func TestAllocateRejectsWhatIsNotABlock(t *testing.T) {
	_, err := AllocateAtMost(0).Match(func(int) {})
	if err == nil || !strings.Contains(err.Error(), "AllocateAtMost expects a block of type func()") {
		t.Fatalf("err = %v", err)
	}
}

func TestAllocateReportsAPanicAsAnError(t *testing.T) {
	alloc.SkipUnderRace(t)
	_, err := Allocate().Match(func() { panic("kaboom") })
	if err == nil || !strings.Contains(err.Error(), "the block panicked: kaboom") {
		t.Fatalf("err = %v", err)
	}
}

func TestAllocateFailsUnderRace(t *testing.T) {
	if !raceEnabled {
		t.Skip("only a -race build refuses to measure")
	}
	_, err := AllocateAtMost(100).Match(func() {})
	if u := errors.Unwrap(err); u == nil || !strings.Contains(u.Error(), "not exact under the race detector") {
		t.Fatalf("err = %v", err)
	}
}
