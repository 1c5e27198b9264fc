package unit

import (
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/record"
)

func TestPackageOf(t *testing.T) {
	for fn, want := range map[string]string{
		"example.com/m/pkg.TestX":          "example.com/m/pkg",
		"example.com/m/pkg_test.TestX":     "example.com/m/pkg",
		"gopkg.in/yaml%2ev3.TestX":         "gopkg.in/yaml.v3",
		"example.com/m/pkg.init.func1.2.3": "example.com/m/pkg",
		"main.TestX":                       "main",
	} {
		if got := PackageOf(fn); got != want {
			t.Errorf("PackageOf(%q) = %q, want %q", fn, got, want)
		}
	}
}

// TestAttribute: a test that waited in t.Parallel while another changed a
// global is not blamed for it; one that only overlapped it still is.
func TestAttribute(t *testing.T) {
	endedMu.Lock()
	saved := endedAll
	endedAll = nil
	endedMu.Unlock()
	t.Cleanup(func() { endedAll = saved })

	at := func(ms int) time.Time { return time.Unix(1000, 0).Add(time.Duration(ms) * time.Millisecond) }
	change := func(key string) *record.Record {
		return &record.Record{Counts: record.Counts{Globals: 1, Goroutines: 1}, Findings: []record.Finding{
			{Probe: record.Goroutines, Key: "g", Count: 1},
			{Probe: record.Globals, Key: key, Count: 1},
		}}
	}
	if got := attribute(at(10), at(20), change("app.Mode")); len(got) != 2 {
		t.Fatalf("the test that changed app.Mode: %v", got)
	}
	waited := change("app.Mode")
	got := attribute(at(0), at(30), waited)
	if len(got) != 1 || got[0].Probe != record.Goroutines || waited.Counts.Globals != 0 || waited.Counts.Goroutines != 1 {
		t.Errorf("the test that waited around it: %v %+v", got, waited.Counts)
	}
	if got := attribute(at(15), at(40), change("app.Mode")); len(got) != 2 {
		t.Errorf("a test that overlapped it: %v", got)
	}
	if got := attribute(at(0), at(50), change("app.Other")); len(got) != 2 {
		t.Errorf("another variable: %v", got)
	}
}

// testMode is changed by the check beside the one judged.
var testMode = "plain"

// TestChangesBesideAnotherCheckAreUnattributed runs two sessions at once,
// as parallel tests do: the global change the second makes while the first
// runs is not the first's finding, and the first still ends with it listed.
func TestChangesBesideAnotherCheckAreUnattributed(t *testing.T) {
	const scope = "github.com/residue-go/residue/audit/internal/unit"
	// The other test's goroutine exists before the first check starts.
	begin, changed, finish := make(chan struct{}), make(chan struct{}), make(chan struct{})
	done := make(chan []record.Finding, 1)
	go func() {
		<-begin
		second, _ := start(scope)
		if second == nil {
			done <- nil
			return
		}
		restore := second.Adopt()
		testMode = "beside"
		close(changed)
		<-finish
		testMode = "plain"
		restore()
		_, fs, _, _, _ := second.Finish()
		done <- fs
	}()
	first, err := start(scope)
	if err != nil {
		close(begin)
		close(finish)
		t.Skip("globals cannot be read here: ", err)
	}
	restoreFirst := first.Adopt()
	close(begin)
	<-changed
	restoreFirst()
	c, fs, unattributed, report, err := first.Finish()
	close(finish)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 0 || c.Globals != 0 || report != "" {
		t.Errorf("the other check's change is the first's finding: %v %+v\n%s", fs, c, report)
	}
	if len(unattributed) != 1 || !strings.Contains(unattributed[0].Key, "testMode") {
		t.Errorf("unattributed = %v, want the change to testMode", unattributed)
	}
}
