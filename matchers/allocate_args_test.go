package matchers_test

import (
	"strings"
	"testing"

	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/alloc"
	. "github.com/residue-go/residue/matchers"
)

// Invalid arguments are errors naming them, and the block does not run:
// AllocateAtMost(-1) is not Allocate(), which a limit of -1 stood for.
func TestAllocationMatchersRejectInvalidArgumentsByName(t *testing.T) {
	for _, c := range []struct {
		matcher types.GomegaMatcher
		want    string
	}{
		{AllocateAtMost(-1), "AllocateAtMost(-1): a count of objects is never negative"},
		{AllocateBytesAtMost(-1), "AllocateBytesAtMost(-1): a count of bytes is never negative"},
		{StayWithinBudget(""), `StayWithinBudget(""): a budget needs a name`},
		{Allocate(alloc.WarmUp(-1)), "Allocate: alloc.WarmUp(-1): must not be negative"},
		{AllocateAtMost(3, alloc.Runs(0)), "AllocateAtMost(3): alloc.Runs(0): the block must be measured at least once"},
		{AllocateBytesAtMost(64, alloc.AtMostIn("", 1)), `AllocateBytesAtMost(64): alloc.AtMostIn("", 1): the function needs a name`},
		{AllocateAtMost(3, alloc.AtMostIn("strings.Join", -2)), `AllocateAtMost(3): alloc.AtMostIn("strings.Join", -2): must not be negative`},
		{AllocateAtMost(3, alloc.AtMost(-1)), "AllocateAtMost(3): alloc.AtMost(-1): must not be negative"},
		{AllocateAtMost(3, alloc.BytesAtMost(-1)), "AllocateAtMost(3): alloc.BytesAtMost(-1): must not be negative"},
		{StayWithinBudget("b", alloc.BudgetFile("")), `StayWithinBudget("b"): alloc.BudgetFile(""): the budget file needs a path`},
		{Allocate(alloc.Option{}), "an option of the zero value was given"},
	} {
		ran := false
		ok, err := c.matcher.Match(func() { ran = true })
		if ok || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error %q, got %v, %v", c.want, ok, err)
		}
		if ran {
			t.Errorf("%s: the block ran", c.want)
		}
	}
}
