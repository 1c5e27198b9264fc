package unit

import (
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
