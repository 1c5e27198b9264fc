package files_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue/files"
)

func lineAfter() int {
	_, _, line, _ := runtime.Caller(1)
	return line + 1
}

func thisFile() string {
	_, file, _, _ := runtime.Caller(0)
	return file
}

// privateTemp points os.TempDir at a new directory for the test, so that
// what other processes write in the machine's temp directory does not
// enter the test's figures.
func privateTemp(t *testing.T) string {
	dir := must(os.MkdirTemp("", "residue-files-test-"))
	t.Cleanup(func() { os.RemoveAll(dir) })
	t.Setenv("TMPDIR", dir)
	return dir
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestATempFileLeftIsReportedWithTheLineThatCreatedIt(t *testing.T) {
	privateTemp(t)
	var f *os.File
	var line int
	rep, err := files.Find(func() {
		line = lineAfter()
		f = must(os.CreateTemp("", "residue-leave-*.txt"))
		f.Close()
	}, files.Within(0))
	if f != nil {
		defer os.Remove(f.Name())
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 {
		t.Fatalf("want 1 path, got %+v", rep)
	}
	p := rep.Paths[0]
	if p.Path != f.Name() || p.Dir || p.In != "temp dir" || p.By != "block" {
		t.Errorf("path = %+v, want %s", p, f.Name())
	}
	msg := rep.String()
	for _, want := range []string{
		"The block left 1 file or directory behind:\n\nfile " + f.Name() + "\n",
		fmt.Sprintf("created by the block at %s:%d", thisFile(), line),
		"os.CreateTemp",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	fs := files.FindingsOf(rep)
	if len(fs) != 1 || fs[0].Key != "file in the temp dir: residue-leave-*.txt created by github.com/residue-go/residue/files_test.TestATempFileLeftIsReportedWithTheLineThatCreatedIt.func1" {
		t.Errorf("findings = %+v", fs)
	}
	t.Log("\n" + msg)
}

func TestADirectoryLeftIsReportedOnceWithItsEntries(t *testing.T) {
	privateTemp(t)
	var dir string
	var line int
	rep, err := files.Find(func() {
		line = lineAfter()
		dir = must(os.MkdirTemp("", "residue-dir-"))
		must(0, os.WriteFile(filepath.Join(dir, "a"), nil, 0o644))
		must(0, os.MkdirAll(filepath.Join(dir, "b", "c"), 0o755))
	}, files.Within(0))
	defer os.RemoveAll(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 || rep.Paths[0].Path != dir || !rep.Paths[0].Dir || rep.Paths[0].Entries != 3 {
		t.Fatalf("want the directory %s with 3 entries, got %+v", dir, rep.Paths)
	}
	msg := rep.String()
	for _, want := range []string{
		"directory " + dir + " (3 entries)",
		fmt.Sprintf("%s:%d", thisFile(), line),
		"defer os.RemoveAll",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	// os.MkdirAll made no name with random digits: only os.MkdirTemp can
	// have made this directory.
	if rep.Paths[0].Created == nil || strings.Contains(msg, "one of") {
		t.Errorf("the directory's maker is not told apart from os.MkdirAll:\n%s", msg)
	}
	t.Log("\n" + msg)
}

func TestRemovedFilesAndTestingTempDirsAreNotReported(t *testing.T) {
	privateTemp(t)
	rep, err := files.Find(func() {
		f := must(os.CreateTemp("", "residue-gone-*"))
		f.Close()
		os.Remove(f.Name())
		d := must(os.MkdirTemp("", "residue-gone-"))
		os.RemoveAll(d)
		must(0, os.WriteFile(filepath.Join(t.TempDir(), "kept-by-testing"), []byte("x"), 0o644))
		_ = must(os.ReadFile(thisFile()))
	}, files.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) > 0 {
		t.Fatalf("reported:\n%s", rep)
	}
}

// The work directories of the go command and of residue test, which run
// beside tests and remove their own, are never a block's.
func TestToolWorkDirectoriesAreNotReported(t *testing.T) {
	privateTemp(t)
	rep, err := files.Find(func() {
		must(os.MkdirTemp("", "go-build"))
		must(os.MkdirTemp("", "residue-audit-"))
	}, files.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) > 0 {
		t.Fatalf("reported:\n%s", rep)
	}
}

func TestAFileLeftInTheWorkingDirectory(t *testing.T) {
	privateTemp(t)
	const name = "residue-left-here.txt"
	defer os.Remove(name)
	rep, err := files.Find(func() {
		must(0, os.WriteFile(name, []byte("x"), 0o644))
	}, files.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if len(rep.Paths) != 1 || rep.Paths[0].Path != filepath.Join(wd, name) || rep.Paths[0].In != "working dir" {
		t.Fatalf("got %+v", rep)
	}
	if k := files.FindingsOf(rep)[0].Key; !strings.HasPrefix(k, "file in the working dir: "+name+" created by ") {
		t.Errorf("key %q", k)
	}
}

// A file made inside a directory that existed before the block (whose
// entries the first look did not list) is found through the directory's
// modification time and the file's birth time.
func TestAFileLeftInsideAnExistingTempDirectory(t *testing.T) {
	privateTemp(t)
	dir := must(os.MkdirTemp("", "residue-existing-"))
	defer os.RemoveAll(dir)
	must(0, os.WriteFile(filepath.Join(dir, "old"), nil, 0o644))
	// File times come from a coarse clock: what is made just before the
	// block may look made during it (see clockSlack).
	time.Sleep(50 * time.Millisecond)
	rep, err := files.Find(func() {
		must(0, os.WriteFile(filepath.Join(dir, "new"), nil, 0o644))
	}, files.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 || rep.Paths[0].Path != filepath.Join(dir, "new") {
		t.Fatalf("got %+v", rep)
	}
}

func TestSettleWindow(t *testing.T) {
	privateTemp(t)
	var wg sync.WaitGroup
	block := func() {
		f := must(os.CreateTemp("", "residue-settle-*"))
		f.Close()
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(200 * time.Millisecond)
			os.Remove(f.Name())
		}()
	}
	rep, err := files.Find(block, files.Within(3*time.Second))
	if err != nil || len(rep.Paths) > 0 || rep.Waited < 150*time.Millisecond {
		t.Fatalf("%v %v\n%s", err, rep.Waited, rep)
	}
	rep, err = files.Find(block, files.Within(0))
	wg.Wait()
	if err != nil || len(rep.Paths) != 1 {
		t.Fatalf("without a window: %v\n%s", err, rep)
	}
}

// Paths that appear while the block runs but that no call of the block
// made — here a directory made by another goroutine's os.Mkdir outside any
// probed block, while the block itself creates only a file — are not blamed.
func TestPathsTheBlockDidNotCreateAreNotBlamed(t *testing.T) {
	privateTemp(t)
	other := filepath.Join(os.TempDir(), fmt.Sprintf("residue-other-%d", time.Now().UnixNano()))
	defer os.RemoveAll(other)
	var f *os.File
	made := make(chan struct{})
	go func() {
		<-made
		must(0, os.Mkdir(other, 0o755))
		made <- struct{}{}
	}()
	// A concurrent probed run makes the other goroutine's creation not
	// attributable by being alone.
	rep, err := files.Find(func() {
		f = must(os.CreateTemp("", "residue-mine-*"))
		f.Close()
		made <- struct{}{}
		<-made
	}, files.Within(0))
	defer os.Remove(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 || rep.Paths[0].Path != f.Name() {
		t.Fatalf("got %+v", rep)
	}
	if len(rep.Others) != 1 || rep.Others[0].Path != other {
		t.Errorf("others = %+v", rep.Others)
	}
}

func TestOptions(t *testing.T) {
	privateTemp(t)
	if _, err := files.Find(func() {}, files.Within(-time.Second)); err == nil || !strings.Contains(err.Error(), "files.Within(-1s): the settle window must not be negative") {
		t.Errorf("err = %v", err)
	}
	if _, err := files.Find(func() {}, files.IgnoringPath("[")); err == nil || !strings.HasPrefix(err.Error(), `files.IgnoringPath("["):`) {
		t.Errorf("err = %v", err)
	}
	var dir string
	rep, err := files.Find(func() {
		dir = must(os.MkdirTemp("", "residue-ignored-"))
		must(0, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
	}, files.Within(0), files.IgnoringPath(filepath.Join(os.TempDir(), "residue-ignored-*")))
	defer os.RemoveAll(dir)
	if err != nil || len(rep.Paths) > 0 {
		t.Fatalf("ignored path reported: %v\n%s", err, rep)
	}
}

// Another process writing into a directory of the temp directory that
// existed before the block, while the block runs and after it returned, is
// not blamed; the block's own file is.
func TestAnotherProcessWritingMeanwhileIsNotBlamed(t *testing.T) {
	tmp := privateTemp(t)
	work := filepath.Join(tmp, "work")
	must(0, os.Mkdir(work, 0o755))
	time.Sleep(50 * time.Millisecond)
	writer := exec.Command("sh", "-c", `i=0; while [ $i -lt 200 ]; do : > "$0/n$i"; i=$((i+1)); sleep 0.005; done`, work)
	must(0, writer.Start())
	defer writer.Wait()
	defer writer.Process.Kill()
	time.Sleep(30 * time.Millisecond)
	var mine string
	rep, err := files.Find(func() {
		f := must(os.CreateTemp("", "mine-*"))
		f.Close()
		mine = f.Name()
		g := must(os.CreateTemp("", "cleaned-*"))
		g.Close()
		os.Remove(g.Name())
		// Another process surely writes while the block runs.
		must(0, exec.Command("touch", filepath.Join(work, "touched")).Run())
		time.Sleep(50 * time.Millisecond)
	}, files.Within(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 || rep.Paths[0].Path != mine {
		t.Fatalf("want only %s, got:\n%s", mine, rep)
	}
	if !slices.ContainsFunc(rep.Others, func(p files.Path) bool { return p.Path == filepath.Join(work, "touched") }) {
		t.Errorf("the other process's files are not listed as others:\n%s", rep)
	}
	t.Log("\n" + rep.String())
}

// The block made two files and removed one: only one new file can be its,
// so a file another process made meanwhile, inside a directory that
// existed before, is not blamed.
func TestRemovalsCountAgainstTheBlocksCreations(t *testing.T) {
	tmp := privateTemp(t)
	work := filepath.Join(tmp, "work")
	must(0, os.Mkdir(work, 0o755))
	time.Sleep(50 * time.Millisecond)
	var mine string
	rep, err := files.Find(func() {
		f := must(os.CreateTemp("", "mine-*"))
		f.Close()
		mine = f.Name()
		g := must(os.CreateTemp("", "cleaned-*"))
		g.Close()
		os.Remove(g.Name())
		must(0, exec.Command("touch", filepath.Join(work, "touched")).Run())
	}, files.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Paths) != 1 || rep.Paths[0].Path != mine || len(rep.Others) != 1 {
		t.Fatalf("want %s only, and the touched file apart, got:\n%s", mine, rep)
	}
}
