package main

import (
	"go/version"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/record"
)

func TestFindResidue(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	// Built from this checkout: its own source directory.
	if src, err := findResidue(""); err != nil || src.dir != root {
		t.Errorf("findResidue() = %+v, %v; want the checkout %s", src, err, root)
	}
	if src, err := findResidue(filepath.Join("..", "..")); err != nil || src.dir != root {
		t.Errorf("findResidue(../..) = %+v, %v", src, err)
	}
	if _, err := findResidue(t.TempDir()); err == nil {
		t.Error("a directory without residue was accepted")
	}
}

// TestModFileCopy: the module's go.mod is copied with residue required and
// replaced, and the module's own files are left as they were.
func TestModFileCopy(t *testing.T) {
	fixture, _ := filepath.Abs(filepath.Join("testdata", "fixture"))
	before, err := os.ReadFile(filepath.Join(fixture, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := mainModule(fixture)
	if err != nil || m.Path != "example.com/fixture" {
		t.Fatalf("mainModule = %+v, %v", m, err)
	}
	dir := t.TempDir()
	file, err := writeModFile(dir, m, residueSource{dir: "/src/residue"})
	if err != nil {
		t.Fatal(err)
	}
	out, err := goCmd(dir, nil, "mod", "edit", "-json", file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Path": "github.com/residue-go/residue"`, `"Path": "/src/residue"`, `"Path": "github.com/onsi/ginkgo/v2"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("copy lacks %s:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.sum")); err != nil {
		t.Errorf("go.sum not copied: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(fixture, "go.mod"))
	if string(after) != string(before) {
		t.Error("the module's go.mod changed")
	}
}

// TestLeakProfileExperiment: the goroutine leak profile is asked for on Go
// 1.26 only, added to the user's experiments, and never against their
// choice.
func TestLeakProfileExperiment(t *testing.T) {
	for _, c := range []struct{ version, experiment, want string }{
		{"go1.26.8", "", "goroutineleakprofile"},
		{"go1.26rc1", "fieldtrack", "fieldtrack,goroutineleakprofile"},
		{"go1.26.8", "nogoroutineleakprofile", ""},
		{"go1.26.8", "goroutineleakprofile", ""},
		{"go1.27.0", "", ""},
		{"devel go1.27-0123abcd", "", ""},
	} {
		m := modInfo{GoVersion: c.version, Experiment: c.experiment}
		if got := m.leakProfileExperiment(); got != c.want {
			t.Errorf("%s with GOEXPERIMENT=%q: %q, want %q", c.version, c.experiment, got, c.want)
		}
	}
}

// TestStuckGoroutineIsReportedAtOnce: the fixture's worker waits on a
// channel nobody else holds; the runtime's goroutine leak profile, which
// the command asks for on Go 1.26 and Go 1.27 has by default, proves it
// stuck, and the check does not wait the settle window.
func TestStuckGoroutineIsReportedAtOnce(t *testing.T) {
	code, out, stderr := auditFixture(t, "-json", "-run", "^TestGoroutine$", "./plain")
	recs, err := record.Read(strings.NewReader(out))
	if code != exitFindings || err != nil || len(recs) != 1 {
		t.Fatalf("exit code %d, err %v\n%s%s", code, err, out, stderr)
	}
	if r := recs[0]; r.Counts.Goroutines != 1 || r.Check > 0.5 {
		t.Errorf("%s: %d goroutines, check took %.3fs", r.Test, r.Counts.Goroutines, r.Check)
	}
}

// TestGodebugDefault: a module whose go line is older than residue's keeps
// its GODEBUG defaults in the audited build, unless its go.mod names them.
func TestGodebugDefault(t *testing.T) {
	for _, c := range []struct {
		goLine string
		own    bool
		want   string
	}{
		{"1.12", false, "go1.12"},
		{"1.25.3", false, "go1.25.3"},
		{"1.20", true, ""},
		{"1.26.0", false, ""},
		{"1.27", false, ""},
		{"", false, ""},
	} {
		m := modInfo{Go: c.goLine, GodebugDefault: c.own}
		if got := m.godebugDefault(); got != c.want {
			t.Errorf("go %q, own default line %v: %q, want %q", c.goLine, c.own, got, c.want)
		}
	}
	// residueGo repeats residue's go line, which the copy is raised to.
	b, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "go "); ok && version.Lang("go"+v) != residueGo {
			t.Errorf("residue's go.mod says go %s; residueGo is %s", v, residueGo)
		}
	}
}
