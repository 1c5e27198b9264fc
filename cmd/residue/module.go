package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
)

const residueModule = "github.com/residue-go/residue"

// goCommand is the go command with args, run in dir with env added to the
// environment; its standard error goes to stderr.
func goCommand(dir string, env []string, stderr io.Writer, args ...string) *exec.Cmd {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = stderr
	return cmd
}

// goCmd runs the go command in dir and returns its standard output; its
// standard error is in the error.
func goCmd(dir string, env []string, args ...string) ([]byte, error) {
	var stderr bytes.Buffer
	out, err := goCommand(dir, env, &stderr, args...).Output()
	if err != nil {
		return out, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// residueSource says where the hook's module comes from: a directory to
// replace the module with, or a version to require from the module proxy.
type residueSource struct {
	dir     string
	version string
}

// findResidue finds the residue module the hook is built from: the
// directory given, else the source directory this command was built from
// (a checkout under go run or go install ./cmd/residue, or the module
// cache after go install …@version), else the version of the module this
// binary was built from.
func findResidue(given string) (residueSource, error) {
	if given != "" {
		dir, err := filepath.Abs(given)
		if err == nil && !isResidueDir(dir) {
			err = fmt.Errorf("%s holds no %s module", dir, residueModule)
		}
		return residueSource{dir: dir}, err
	}
	_, file, _, ok := runtime.Caller(0)
	if dir := filepath.Dir(filepath.Dir(filepath.Dir(file))); ok && filepath.IsAbs(file) && isResidueDir(dir) {
		return residueSource{dir: dir}, nil
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == residueModule &&
		strings.HasPrefix(bi.Main.Version, "v") && !strings.HasSuffix(bi.Main.Version, "+dirty") {
		return residueSource{version: bi.Main.Version}, nil
	}
	return residueSource{}, errors.New("cannot tell which residue module to build the hook from (the command was built with -trimpath or from a modified checkout): give -residue-dir")
}

// isResidueDir reports whether dir holds the residue module with the hook.
func isResidueDir(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if strings.TrimSpace(first) != "module "+residueModule {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "audit", "audit.go"))
	return err == nil
}

// modInfo is what go env and go mod edit say of the main module, and of
// the toolchain that builds it.
type modInfo struct {
	GoMod      string // the go.mod file
	Path       string // the module path
	GoVersion  string // the toolchain's, as go env GOVERSION gives it ("go1.26.8")
	Experiment string // GOEXPERIMENT as go env gives it
	// Go is the go.mod's go line ("1.12"); GodebugDefault is set when the
	// go.mod has a godebug default line.
	Go             string
	GodebugDefault bool
}

func mainModule(dir string) (modInfo, error) {
	out, err := goCmd(dir, nil, "env", "GOMOD", "GOVERSION", "GOEXPERIMENT")
	if err != nil {
		return modInfo{}, err
	}
	var m modInfo
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	for i, v := range []*string{&m.GoMod, &m.GoVersion, &m.Experiment} {
		if i < len(lines) {
			*v = strings.TrimSpace(lines[i])
		}
	}
	if m.GoMod == "" || m.GoMod == os.DevNull {
		return m, errors.New("residue test runs inside a module: no go.mod found")
	}
	out, err = goCmd(dir, nil, "mod", "edit", "-json", m.GoMod)
	if err != nil {
		return m, err
	}
	var j struct {
		Module  struct{ Path string }
		Go      string
		Godebug []struct{ Key string }
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return m, err
	}
	m.Path, m.Go = j.Module.Path, j.Go
	for _, g := range j.Godebug {
		m.GodebugDefault = m.GodebugDefault || g.Key == "default"
	}
	return m, nil
}

// godebugDefault returns the Go version whose GODEBUG defaults the
// audited build keeps, or "": requiring residue raises the copy's go line
// to residue's, and the go line of the main module picks the defaults of
// the run-time behaviours GODEBUG controls. A module at go 1.12 would
// otherwise run its tests with Go 1.26's (rand.Seed a no-op, for one),
// and a test could fail audited that passes plain. A godebug default line
// of the module's own is kept as it is.
func (m modInfo) godebugDefault() string {
	if m.Go == "" || m.GodebugDefault || version.Compare("go"+m.Go, residueGo) >= 0 {
		return ""
	}
	return "go" + m.Go
}

// residueGo is the go line of residue's go.mod: an audited module's copy
// is raised to it.
const residueGo = "go1.26"

// leakProfileExperiment returns the GOEXPERIMENT value that gives the tests
// the runtime's goroutine leak profile, or "" when the toolchain has it
// already or not at all, or the user chose: on Go 1.26 the profile is an
// experiment (on by default from Go 1.27). With it, a goroutine blocked
// forever on something nothing else can reach is reported at once instead
// of after the settle window.
func (m modInfo) leakProfileExperiment() string {
	if !strings.HasPrefix(m.GoVersion, "go1.26") || strings.Contains(m.Experiment, "goroutineleakprofile") {
		return ""
	}
	if m.Experiment == "" {
		return "goroutineleakprofile"
	}
	return m.Experiment + ",goroutineleakprofile"
}

// writeModFile writes into dir a copy of the module's go.mod and go.sum
// with residue required (and replaced by src.dir when set), and returns the
// copy's path for go test -modfile. go test -mod=mod completes it (go.sum
// lines, the go line when residue needs a newer one); the module's own
// files are never written.
func writeModFile(dir string, m modInfo, src residueSource) (string, error) {
	modFile := filepath.Join(dir, "go.mod")
	b, err := os.ReadFile(m.GoMod)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(modFile, b, 0o644); err != nil {
		return "", err
	}
	sum, err := os.ReadFile(strings.TrimSuffix(m.GoMod, ".mod") + ".sum")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		return "", err
	}
	args := []string{"mod", "edit"}
	if d := m.godebugDefault(); d != "" {
		args = append(args, "-godebug=default="+d)
	}
	if src.dir != "" {
		args = append(args, "-require="+residueModule+"@v0.0.0-00010101000000-000000000000", "-replace="+residueModule+"="+src.dir)
	} else {
		args = append(args, "-require="+residueModule+"@"+src.version, "-dropreplace="+residueModule)
	}
	_, err = goCmd(dir, nil, append(args, modFile)...)
	return modFile, err
}
