package probes

import (
	"context"
	"runtime/pprof"
	"slices"
	"testing"

	"github.com/residue-go/residue/internal/stack"
)

// Both ways of reading the calling goroutine's labels agree, and the
// direct one is in use on this runtime.
func TestLabelReadersAgree(t *testing.T) {
	if _, ok := stack.CurrentLabels(); !ok {
		t.Fatal("the runtime's label layout is not the one expected: every run would read the goroutine profile")
	}
	pprof.Do(context.Background(), pprof.Labels("user", "mine", "other", "x"), func(context.Context) {
		direct, _ := stack.CurrentLabels()
		if profile := labelsFromProfile(); !slices.Equal(direct, profile) || len(direct) != 4 {
			t.Fatalf("direct %q, from the profile %q", direct, profile)
		}
	})
	if got, _ := stack.CurrentLabels(); len(got) != 0 {
		t.Fatalf("labels left after pprof.Do: %q", got)
	}
}
