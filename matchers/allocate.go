package matchers

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/text"
)

// Allocate succeeds when the block makes any heap allocation on its own
// goroutine. Use it with NotTo to assert that a block does not allocate:
//
//	Expect(func() { sum = add(a, b) }).NotTo(Allocate())
//
// The failure lists every allocation site with its objects and bytes. The
// options are those of alloc.Measure (alloc.WarmUp, alloc.Runs); see
// AllocateAtMost for what is counted.
func Allocate(opts ...alloc.Option) types.GomegaMatcher {
	return &allocateMatcher{name: "Allocate", opts: opts, limit: -1, call: "Allocate"}
}

// AllocateAtMost succeeds when the block allocates at most objects heap
// objects on its own goroutine, and stays within every alloc.AtMostIn limit
// among opts. The count is exact whatever other goroutines allocate at the
// same time; allocations made by goroutines the block starts are not counted.
// With alloc.Runs, every measured run must stay within the limit.
//
// A negative count is an error (the block is not run).
func AllocateAtMost(objects int, opts ...alloc.Option) types.GomegaMatcher {
	return &allocateMatcher{name: "AllocateAtMost", opts: opts, limit: int64(objects), unit: "objects",
		call: fmt.Sprintf("AllocateAtMost(%d)", objects)}
}

// AllocateBytesAtMost succeeds when the block allocates at most bytes bytes
// on its own goroutine (each object counted at its size class, as the runtime
// allocates it), and stays within every alloc.AtMostIn limit among opts.
// A negative count is an error (the block is not run).
func AllocateBytesAtMost(bytes int64, opts ...alloc.Option) types.GomegaMatcher {
	return &allocateMatcher{name: "AllocateBytesAtMost", opts: opts, limit: bytes, unit: "bytes",
		call: fmt.Sprintf("AllocateBytesAtMost(%d)", bytes)}
}

type allocateMatcher struct {
	name  string
	call  string // the call that made the matcher, for errors: "AllocateAtMost(3)"
	opts  []alloc.Option
	limit int64  // -1 for Allocate
	unit  string // "objects" or "bytes"
	m     *alloc.Measurement
}

func (a *allocateMatcher) Match(actual any) (bool, error) {
	if a.unit != "" && a.limit < 0 {
		return false, fmt.Errorf("%s: a count of %s is never negative", a.call, a.unit)
	}
	block, err := asBlock(a.name, actual)
	if err != nil {
		return false, err
	}
	if a.m, err = measure(a.call, block, a.opts); err != nil {
		return false, err
	}
	switch {
	case a.limit < 0:
		return a.m.Objects > 0, nil
	case a.unit == "bytes":
		return a.m.Bytes <= a.limit && !slices.ContainsFunc(a.m.Limits, overLimit), nil
	default:
		return a.m.Objects <= a.limit && !slices.ContainsFunc(a.m.Limits, overLimit), nil
	}
}

func (a *allocateMatcher) FailureMessage(any) string {
	if a.limit < 0 {
		return "Expected the block to allocate, but it allocated nothing" + a.runs()
	}
	var b strings.Builder
	over := (a.unit == "objects" && a.m.Objects > a.limit) || (a.unit == "bytes" && a.m.Bytes > a.limit)
	if over {
		fmt.Fprintf(&b, "Expected the block to allocate at most %s, but it allocated %s", a.limitText(), a.m)
	}
	for _, l := range a.m.Limits {
		if !overLimit(l) {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		fmt.Fprintf(&b, "Expected the block to stay within alloc.AtMostIn(%q, %d), but it allocated %s", l.Function, l.AtMost, l)
	}
	return b.String()
}

func (a *allocateMatcher) NegatedFailureMessage(any) string {
	if a.limit < 0 {
		return "Expected the block not to allocate, but it allocated " + a.m.String()
	}
	return fmt.Sprintf("Expected the block to allocate more than %s, but it allocated %s", a.limitText(), a.m)
}

func (a *allocateMatcher) limitText() string {
	if a.unit == "bytes" {
		return text.Bytes(a.limit)
	}
	return text.Plural(a.limit, "object")
}

func (a *allocateMatcher) runs() string {
	if len(a.m.Runs) > 1 {
		return fmt.Sprintf(" in any of %d measured runs", len(a.m.Runs))
	}
	return ""
}

// measure runs alloc.Measure for the matcher made by call, naming the call
// in an error. Under -race, with env.SkipAllocUnderRace set to 1, it skips
// the running Ginkgo spec instead, with the reason, at the assertion's line.
func measure(call string, block func(), opts []alloc.Option) (*alloc.Measurement, error) {
	m, err := alloc.Measure(block, opts...)
	if !errors.Is(err, env.ErrRace) {
		if err != nil {
			return nil, fmt.Errorf("%s: %w", call, err)
		}
		return m, nil
	}
	if os.Getenv(env.SkipAllocUnderRace) != "1" {
		return nil, fmt.Errorf("%s: %w\n(to skip allocation checks under -race: %s=1 for Ginkgo specs, "+
			"alloc.SkipUnderRace(t) in a plain test)", call, err, env.SkipAllocUnderRace)
	}
	if !inGinkgoSpec() {
		return nil, fmt.Errorf("%s: %w\n(%s=1 skips Ginkgo specs only; in a plain test call alloc.SkipUnderRace(t))",
			call, err, env.SkipAllocUnderRace)
	}
	ginkgo.Skip(fmt.Sprintf("%s: %v (skipped: %s=1)", call, err, env.SkipAllocUnderRace), assertionSkip())
	return nil, err // not reached: Skip ends the spec
}

// assertionSkip returns how many frames lie between its caller and the
// innermost caller outside residue, Gomega and Ginkgo (the Expect), for
// ginkgo.Skip's callerSkip.
func assertionSkip() int {
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for i := 0; ; i++ {
		f, more := frames.Next()
		if !isLibrary(f.Function) || !more {
			return i
		}
	}
}

// overLimit reports whether the block went over an alloc.AtMostIn limit.
func overLimit(l alloc.Limit) bool { return l.Objects > l.AtMost }
