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

func measure(t *testing.T, block func()) *alloc.Measurement {
	t.Helper()
	m, err := alloc.Measure(block)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func check(t *testing.T, path, name string, m *alloc.Measurement) *alloc.Verdict {
	t.Helper()
	v, err := alloc.CheckBudget(name, m, alloc.BudgetFile(path))
	if err != nil {
		t.Fatal(err)
	}
	return v
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
	t.Setenv(alloc.UpdateEnv, "1")
	if v := check(t, path, "parse-header", measure(t, three)); v.Outcome != alloc.BudgetRecorded || v.HadBudget {
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
	t.Setenv(alloc.UpdateEnv, "")
	if v := check(t, path, "render page", measure(t, one)); v.Outcome != alloc.BudgetHolds || v.Failed(true) {
		t.Fatalf("within: %v", v)
	}
	v := check(t, path, "render page", measure(t, three))
	if v.Outcome != alloc.BudgetExceeded || !v.Failed(false) {
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
	v = check(t, path, "parse-header", measure(t, one))
	if v.Outcome != alloc.BudgetLoose || v.Failed(false) || !v.Failed(true) {
		t.Fatalf("slack: %v", v)
	}
	if msg := v.String(); !strings.Contains(msg, `allocation budget "parse-header" can be tightened`) || !strings.Contains(msg, "objects: 3 → 1 (-2)") {
		t.Fatalf("slack message:\n%s", msg)
	}
	t.Log("\n" + v.String())

	// Tighten.
	t.Setenv(alloc.UpdateEnv, "1")
	if v := check(t, path, "parse-header", measure(t, one)); v.Outcome != alloc.BudgetRecorded || v.Old.Objects != 3 {
		t.Fatalf("tighten: %v", v)
	}
	t.Setenv(alloc.UpdateEnv, "")
	if v := check(t, path, "parse-header", measure(t, one)); v.Outcome != alloc.BudgetHolds {
		t.Fatalf("after tightening: %v", v)
	}
	if data, _ := os.ReadFile(path); !strings.Contains(string(data), `"parse-header": {"objects": 1, "bytes": 64}`) {
		t.Fatalf("budget file after tightening:\n%s", data)
	}
}

func TestBudgetMissingFails(t *testing.T) {
	alloc.SkipUnderRace(t)
	t.Setenv(alloc.UpdateEnv, "")
	path := filepath.Join(t.TempDir(), "residue-budgets.json")
	v := check(t, path, "nowhere", measure(t, func() {}))
	if v.Outcome != alloc.BudgetMissing || !v.Failed(false) {
		t.Fatalf("%v", v)
	}
	if !strings.Contains(v.String(), `no allocation budget "nowhere" in `+path) {
		t.Fatal(v)
	}
}

func TestBudgetFileErrorsNameTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "residue-budgets.json")
	os.WriteFile(path, []byte(`{"a": {"objects": 1}}`), 0o644)
	if _, err := alloc.ReadBudgets(path); err == nil || !strings.Contains(err.Error(), `budget "a" needs both "objects" and "bytes"`) {
		t.Fatalf("err = %v", err)
	}
	os.WriteFile(path, []byte(`{"a": `), 0o644)
	if _, err := alloc.ReadBudgets(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v", err)
	}
}

func TestBudgetUpdatesFromParallelTestsAllLand(t *testing.T) {
	t.Setenv(alloc.UpdateEnv, "1")
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
	b, err := alloc.ReadBudgets(path)
	if err != nil || len(b) != 16 || b["b15"] != (alloc.Figures{Objects: 15, Bytes: 240}) {
		t.Fatalf("%v %v", b, err)
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
