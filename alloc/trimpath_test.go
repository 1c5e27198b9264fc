package alloc_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/residue-go/residue/alloc"
)

// TestMeasureTellsTheStandardLibraryApartUnderTrimpath builds and runs the
// tests of testdata/dotless, a module called "myapp", with and without
// -trimpath: a binary built with -trimpath knows no GOROOT, and a module
// path without a dot looks like a standard package's. There, a site in
// package strings must still lead back to myapp.Render, and time.Sleep's
// timer must still be runtime bookkeeping rather than the block's.
func TestMeasureTellsTheStandardLibraryApartUnderTrimpath(t *testing.T) {
	alloc.SkipUnderRace(t)
	if testing.Short() {
		t.Skip("builds a module twice")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the module with")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"lib.go", "myapp_test.go"} {
		copyFile(t, filepath.Join("testdata", "dotless", name), filepath.Join(dir, name))
	}
	copyFile(t, filepath.Join(root, "go.sum"), filepath.Join(dir, "go.sum"))
	mod := fmt.Sprintf("module myapp\n\ngo 1.26\n\nrequire github.com/residue-go/residue v0.0.0\n\n"+
		"replace github.com/residue-go/residue => %s\n", root)
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flags := range [][]string{{"-trimpath"}, nil} {
		args := append([]string{"test", "-count=1", "-v"}, flags...)
		cmd := exec.Command(goCmd, append(args, ".")...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("go %v: %v\n%s", cmd.Args[1:], err, out)
		}
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
