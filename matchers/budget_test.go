package matchers_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/residue-go/residue/alloc"
	. "github.com/residue-go/residue/matchers"
)

func matchBudget(t *testing.T, name string, block func(), opts ...alloc.Option) (bool, string) {
	t.Helper()
	m := StayWithinBudget(name, opts...)
	ok, err := m.Match(block)
	if err != nil {
		t.Fatal(err)
	}
	if ok {
		return true, ""
	}
	return false, m.FailureMessage(block)
}

// Record, regress, tighten, through the matcher and the default budget file
// in the package's directory.
func TestStayWithinBudgetRoundTrip(t *testing.T) {
	alloc.SkipUnderRace(t)
	t.Chdir(t.TempDir())
	small := func() { allocSink = make([]byte, 32) }
	big := func() {
		allocSink = make([]byte, 32)
		allocSinkStr = joinWords([]string{"grown", "since", "the", "budget"})
	}

	t.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
	if ok, msg := matchBudget(t, "decode", big); !ok {
		t.Fatalf("recording failed: %s", msg)
	}
	data, err := os.ReadFile(filepath.Join("testdata", "residue-budgets.json"))
	if err != nil || string(data) != "{\n  \"decode\": {\"objects\": 3, \"bytes\": 80}\n}\n" {
		t.Fatalf("budget file %q, %v", data, err)
	}

	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	if ok, msg := matchBudget(t, "decode", big); !ok {
		t.Fatalf("same figures failed: %s", msg)
	}
	// Well under: passes with a note; fails when strict.
	if ok, msg := matchBudget(t, "decode", small); !ok {
		t.Fatalf("slack failed without strict: %s", msg)
	}
	t.Setenv("RESIDUE_STRICT_BUDGETS", "1")
	ok, msg := matchBudget(t, "decode", small)
	if ok || !strings.Contains(msg, `allocation budget "decode" can be tightened`) || !strings.Contains(msg, "(a failure because RESIDUE_STRICT_BUDGETS=1)") {
		t.Fatalf("strict slack: %v %s", ok, msg)
	}
	t.Setenv("RESIDUE_STRICT_BUDGETS", "")

	// Tighten, then regress.
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
	matchBudget(t, "decode", small)
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	ok, msg = matchBudget(t, "decode", big)
	for _, want := range []string{
		`allocation budget "decode" exceeded (testdata/residue-budgets.json)`,
		"objects: 1 → 3 (+2)",
		"bytes:   32 B → 80 B (+48 B)",
		"strings.(*Builder).grow  strings/builder.go:",
		"from github.com/residue-go/residue/matchers_test.joinWords  matchers/allocate_test.go:29",
	} {
		if ok || !strings.Contains(msg, want) {
			t.Errorf("regression message lacks %q:\n%s", want, msg)
		}
	}
	t.Log("\n" + msg)
}

func TestStayWithinBudgetFailsWithoutABudget(t *testing.T) {
	alloc.SkipUnderRace(t)
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	path := filepath.Join(t.TempDir(), "budgets.json")
	ok, msg := matchBudget(t, "unknown", func() {}, alloc.BudgetFile(path))
	if ok || !strings.Contains(msg, `no allocation budget "unknown" in `+path) || !strings.Contains(msg, "RESIDUE_UPDATE_BUDGETS=1") {
		t.Fatalf("%v %s", ok, msg)
	}
}
