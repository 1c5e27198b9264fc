package globals

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/residue-go/residue/internal/env"
)

// An index that could not be built because the process ran out of file
// descriptors says so, and is built on a later call once descriptors are
// free again.
func TestIndexErrorsOtherThanNoDebugInfoAreNotKept(t *testing.T) {
	selfMu.Lock()
	saved := selfIx
	selfIx, selfErr = nil, nil
	selfMu.Unlock()
	defer func() {
		selfMu.Lock()
		if selfIx == nil {
			selfIx = saved
		}
		selfMu.Unlock()
	}()

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	low := lim
	low.Cur = 3 // stdin, stdout, stderr: any open fails with EMFILE
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	_, err := selfIndex()
	if e := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); e != nil {
		t.Fatal(e)
	}
	if err == nil || !strings.Contains(err.Error(), "too many open files") || strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("with no descriptor left: %v", err)
	}
	if _, err := selfIndex(); err != nil {
		t.Errorf("once descriptors are free again: %v", err)
	}
}

// Find reads the one entry it looks for: it finds what Lookup finds without
// reading the variables of the package, whose unit can be the largest of
// the binary (the runtime's).
func TestFindReadsOnlyTheEntry(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ix, err := openIndex(exe)
	if errors.Is(err, env.ErrNoDebugInfo) && os.Getenv(env.RequireGlobals) != "1" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"runtime.allfin", "os.Args", "net/http.DefaultServeMux", "github.com/residue-go/residue/globals.typeAnchor"}
	found := map[string]variable{}
	for _, name := range names {
		v, ok := ix.Find(name)
		if !ok || v.Name != name || v.Addr == 0 {
			t.Fatalf("Find(%q) = %+v, %v", name, v, ok)
		}
		found[name] = v
	}
	if _, ok := ix.Find("runtime.noSuchVariable"); ok {
		t.Error("found a variable that does not exist")
	}
	if _, read := ix.vars["runtime"]; read {
		t.Error("Find read every variable of the runtime")
	}
	for _, name := range names {
		if v, ok := ix.Lookup(name); !ok || v != found[name] {
			t.Errorf("Lookup(%q) = %+v, %v; Find gave %+v", name, v, ok, found[name])
		}
	}
}

// The debug info is read from the file the process started from, even when
// its path has since been given other contents (a test binary rebuilt in
// place while it runs): a copy of this test binary replaces its own path
// with something else, then reads its variables.
func TestDebugInfoIsTheRunningFiles(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/self/exe is Linux's")
	}
	if os.Getenv("RESIDUE_TEST_REPLACED_CHILD") == "1" {
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(exe+".new", []byte("not the binary that runs\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(exe+".new", exe); err != nil {
			t.Fatal(err)
		}
		if _, err := selfIndex(); err != nil {
			t.Fatalf("after the path was replaced: %v", err)
		}
		if _, ok := (selfInfo{}).Variable("runtime.allfin"); !ok {
			t.Fatal("runtime.allfin not found")
		}
		return
	}
	if _, err := selfIndex(); errors.Is(err, env.ErrNoDebugInfo) && os.Getenv(env.RequireGlobals) != "1" {
		t.Skip(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "replaced.test")
	if err := os.WriteFile(cp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(cp, "-test.run=^TestDebugInfoIsTheRunningFiles$", "-test.v")
	cmd.Env = append(os.Environ(), "RESIDUE_TEST_REPLACED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("%v\n%s", err, out)
	}
}

// Offsets follows a path of members through typedefs, pointers and slices,
// and says no to a member that is not there. The offsets of a struct of this
// package's own are checked against what the compiler laid out.
func TestOffsetsFollowMembersThroughPointersAndSlices(t *testing.T) {
	if _, err := selfIndex(); errors.Is(err, env.ErrNoDebugInfo) && os.Getenv(env.RequireGlobals) != "1" {
		t.Skip(err)
	}
	if len(offsetsProbe.next) != 1 { // a use, so that the linker keeps the variable
		t.Fatal(offsetsProbe)
	}
	got, ok := (selfInfo{}).Offsets("github.com/residue-go/residue/globals.offsetsProbe", "next", "inner", "b")
	want := []int64{int64(unsafe.Offsetof(offsetsProbe.next)), int64(unsafe.Offsetof(offsetsOuter{}.inner)), int64(unsafe.Offsetof(offsetsInner{}.b))}
	if !ok || !slices.Equal(got, want) {
		t.Fatalf("offsets %v %v, want %v", got, ok, want)
	}
	if got, ok := (selfInfo{}).Offsets("github.com/residue-go/residue/globals.offsetsProbe", "next", "missing"); ok {
		t.Fatalf("a missing member gave %v", got)
	}
	if _, ok := (selfInfo{}).Offsets("runtime.allp", "timers", "minWhenHeap", "value"); !ok {
		t.Fatal("runtime.allp's timer bounds not found")
	}
}

type offsetsInner struct {
	a int8
	b int64
}

type offsetsOuter struct {
	pad   [3]int32
	inner offsetsInner
}

// offsetsProbe is read by TestOffsetsFollowMembersThroughPointersAndSlices:
// a slice of pointers, as runtime.allp is.
var offsetsProbe = struct {
	tag  string
	next []*offsetsOuter
}{next: []*offsetsOuter{{}}}

// defaultScopeVariables returns the variables of the default scope, as a
// snapshot takes them; it skips t when the binary has no debug info.
func defaultScopeVariables(t *testing.T) []scoped {
	t.Helper()
	if _, err := selfIndex(); err != nil {
		t.Skip(err)
	}
	cfg, err := newConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	vars, _, err := variablesInScope(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return vars
}

// The main package of a test binary is the one go test writes (its tables
// of tests, benchmarks and examples): out of the default scope, though
// the binary has it.
func TestTheTestBinarysMainIsOutOfScope(t *testing.T) {
	ix, err := selfIndex()
	if err != nil {
		t.Skip(err)
	}
	if _, ok := ix.Lookup("main.tests"); !ok {
		t.Fatal("the index lists no main.tests")
	}
	for _, v := range defaultScopeVariables(t) {
		if v.Package == "main" {
			t.Errorf("%s is in the default scope", v.Name)
		}
	}
}
