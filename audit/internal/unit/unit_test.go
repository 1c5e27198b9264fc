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
// global is not blamed for it; one that only overlapped it lists the
// change as unattributed; one that ran after it is blamed.
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
	waited.Report = "app.Mode: 1 → 2"
	got := attribute(at(0), at(30), waited)
	if len(got) != 1 || got[0].Probe != record.Goroutines || waited.Counts.Globals != 0 || waited.Counts.Goroutines != 1 {
		t.Errorf("the test that waited around it: %v %+v", got, waited.Counts)
	}
	// Its report, which lists the change, says it is not counted.
	if !strings.HasSuffix(waited.Report, "Not this test's, and not counted: global changes that a test which ran while this one did, and ended before it, saw too: app.Mode") {
		t.Errorf("the report does not say the change is not the test's:\n%s", waited.Report)
	}
	overlapped := change("app.Mode")
	if got := attribute(at(15), at(40), overlapped); len(got) != 1 || len(overlapped.Unattributed) != 1 {
		t.Errorf("a test that overlapped it, whose change may be the other's: %v, unattributed %v", got, overlapped.Unattributed)
	}
	if got := attribute(at(0), at(50), change("app.Other")); len(got) != 2 {
		t.Errorf("another variable: %v", got)
	}
	// A test that ran beside another and saw, unattributed, a change the
	// other made and later undid, ended first; a test that ended later
	// with the change as a finding is not blamed for it.
	beside := &record.Record{Unattributed: []record.Finding{{Probe: record.Globals, Key: "signals", Count: 1}}}
	attribute(at(100), at(130), beside)
	later := change("signals")
	got = attribute(at(110), at(140), later)
	if len(got) != 1 || got[0].Probe != record.Goroutines || later.Counts.Globals != 0 ||
		len(later.Unattributed) != 1 || later.Unattributed[0].Key != "signals" {
		t.Errorf("the test that ended after it: %v, unattributed %v, %+v", got, later.Unattributed, later.Counts)
	}
	if got := attribute(at(200), at(240), change("signals")); len(got) != 2 {
		t.Errorf("a test that ran after it ended: %v", got)
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
		second, _ := start(scope, nil, "", false)
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
	first, err := start(scope, nil, "", false)
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
