package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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
