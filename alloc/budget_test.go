package alloc_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/residue-go/residue/alloc"
)

func check(t *testing.T, path, name string, m *alloc.Measurement) *alloc.Verdict {
	t.Helper()
	v, err := alloc.CheckBudget(name, m, alloc.BudgetFile(path))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// failedStrict reports whether the check fails with
// RESIDUE_STRICT_BUDGETS=1, and says so in its message when it does.
func failedStrict(t *testing.T, check func() *alloc.Verdict) bool {
	t.Setenv("RESIDUE_STRICT_BUDGETS", "1")
	defer t.Setenv("RESIDUE_STRICT_BUDGETS", "")
	v := check()
	failed := v.Failed
	if failed && !strings.Contains(v.String(), "(a failure because RESIDUE_STRICT_BUDGETS=1)") {
		t.Errorf("a strict failure does not say why:\n%s", v)
	}
	return failed
}

// One budget through its life: recorded, held, exceeded, well under (room to
// tighten), tightened.
func TestBudgetRoundTrip(t *testing.T) {
	alloc.SkipUnderRace(t)
	path := filepath.Join(t.TempDir(), "testdata", "residue-budgets.json")
	one := func() { sinkBytes = make([]byte, 64) }
	three := func() {
		sinkBytes = make([]byte, 64)
		sinkInts = make([]int, 8)
		sinkStr = strings.Repeat("z", 40)
	}

	// Record.
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
	if v := check(t, path, "parse-header", measure(t, three)); !strings.HasPrefix(v.String(), `allocation budget "parse-header" recorded (`) || strings.Contains(v.String(), "→") || v.Note == "" {
		t.Fatalf("record: %v", v)
	}
	check(t, path, "render page", measure(t, one))
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "parse-header": {"objects": 3, "bytes": 176},
  "render page": {"objects": 1, "bytes": 64}
}
`
	if string(data) != want {
		t.Fatalf("budget file:\n%s\nwant:\n%s", data, want)
	}

	// Hold, then regress.
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	renderPage := func() *alloc.Verdict { return check(t, path, "render page", measure(t, one)) }
	if v := renderPage(); !strings.Contains(v.String(), "holds") || failedStrict(t, renderPage) {
		t.Fatalf("within: %v", v)
	}
	v := check(t, path, "render page", measure(t, three))
	if !strings.Contains(v.String(), "exceeded") || !v.Failed || v.Note != "" {
		t.Fatalf("over: %v", v)
	}
	msg := v.String()
	for _, w := range []string{
		`allocation budget "render page" exceeded (` + path + `)`,
		"objects: 1 → 3 (+2)",
		"bytes:   64 B → 176 B (+112 B)",
		"where the 3 objects were allocated:",
		"1 object, 48 B  strings.(*Builder).grow  strings/builder.go:",
		"from github.com/residue-go/residue/alloc_test.TestBudgetRoundTrip.func2  alloc/budget_test.go:",
		"record them: RESIDUE_UPDATE_BUDGETS=1 go test",
	} {
		if !strings.Contains(msg, w) {
			t.Errorf("over message lacks %q:\n%s", w, msg)
		}
	}
	t.Log("\n" + msg)

	// Well under: passes, unless strict.
	slack := func() *alloc.Verdict { return check(t, path, "parse-header", measure(t, one)) }
	v = slack()
	if v.Failed || v.Note != v.String() || !failedStrict(t, slack) {
		t.Fatalf("slack: %v", v)
	}
	if msg := v.String(); !strings.Contains(msg, `allocation budget "parse-header" can be tightened`) || !strings.Contains(msg, "objects: 3 → 1 (-2)") {
		t.Fatalf("slack message:\n%s", msg)
	}
	t.Log("\n" + v.String())

	// Tighten.
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
	if v := check(t, path, "parse-header", measure(t, one)); !strings.Contains(v.String(), "recorded") || !strings.Contains(v.String(), "objects: 3 → 1") {
		t.Fatalf("tighten: %v", v)
	}
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	if v := check(t, path, "parse-header", measure(t, one)); !strings.Contains(v.String(), "holds") || v.Failed {
		t.Fatalf("after tightening: %v", v)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"parse-header": {"objects": 1, "bytes": 64}`) {
		t.Fatalf("budget file after tightening:\n%s", data)
	}
}

func TestBudgetMissingFails(t *testing.T) {
	alloc.SkipUnderRace(t)
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "")
	path := filepath.Join(t.TempDir(), "residue-budgets.json")
	v := check(t, path, "nowhere", measure(t, func() {}))
	if !v.Failed {
		t.Fatalf("%v", v)
	}
	if !strings.Contains(v.String(), `no allocation budget "nowhere" in `+path) {
		t.Fatal(v)
	}
}

func TestBudgetFileErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "residue-budgets.json")
	os.WriteFile(path, []byte(`{"a": {"objects": 1}}`), 0o644)
	m := &alloc.Measurement{Runs: []alloc.Figures{{}}}
	if _, err := alloc.CheckBudget("a", m, alloc.BudgetFile(path)); err == nil || !strings.Contains(err.Error(), `budget "a" needs both "objects" and "bytes"`) {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(path, []byte(`{"a": `), 0o644)
	if _, err := alloc.CheckBudget("a", m, alloc.BudgetFile(path)); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestBudgetUpdatesFromParallelTestsAllLand(t *testing.T) {
	t.Setenv("RESIDUE_UPDATE_BUDGETS", "1")
	path := filepath.Join(t.TempDir(), "residue-budgets.json")
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			m := &alloc.Measurement{Figures: alloc.Figures{Objects: int64(i), Bytes: int64(16 * i)}, Runs: []alloc.Figures{{}}}
			if _, err := alloc.CheckBudget(fmt.Sprintf("b%02d", i), m, alloc.BudgetFile(path)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	data, err := os.ReadFile(path)
	if err != nil || strings.Count(string(data), `"objects"`) != 16 || !strings.Contains(string(data), `"b15": {"objects": 15, "bytes": 240}`) {
		t.Fatalf("%s %v", data, err)
	}
}

func TestInvalidArgumentsAreErrorsNamingThem(t *testing.T) {
	if _, err := alloc.Measure(nil); err == nil || !strings.Contains(err.Error(), "alloc.Measure: the block is a nil func") {
		t.Errorf("Measure(nil): %v", err)
	}
	m := &alloc.Measurement{Runs: []alloc.Figures{{}}}
	if _, err := alloc.CheckBudget("", m); err == nil || !strings.Contains(err.Error(), `CheckBudget(""): a budget needs a name`) {
		t.Errorf(`CheckBudget(""): %v`, err)
	}
	if _, err := alloc.CheckBudget("b", nil); err == nil || !strings.Contains(err.Error(), `CheckBudget("b"): no measurement`) {
		t.Errorf(`CheckBudget("b", nil): %v`, err)
	}
	path := filepath.Join(t.TempDir(), "budgets.json")
	if err := os.WriteFile(path, []byte(`{"parse": {"objects": -1, "bytes": 16}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := alloc.CheckBudget("parse", m, alloc.BudgetFile(path)); err == nil ||
		!strings.Contains(err.Error(), `budget "parse" has a negative figure`) {
		t.Errorf("a negative budget: %v", err)
	}
}
