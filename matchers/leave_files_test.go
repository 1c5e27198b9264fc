package matchers_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/files"
	. "github.com/residue-go/residue/matchers"
)

func TestNotToLeaveFilesPassesWhenTheBlockRemovesWhatItMakes(t *testing.T) {
	g := NewWithT(t)
	t.Setenv("TMPDIR", t.TempDir())
	g.Expect(func() {
		f, err := os.CreateTemp("", "report-*.json")
		if err != nil {
			panic(err)
		}
		f.Close()
		os.Remove(f.Name())
	}).NotTo(LeaveFiles())
}

func TestLeaveFilesNamesThePathAndTheLineThatCreatedIt(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	t.Setenv("TMPDIR", t.TempDir())
	var name string
	var line int
	m := LeaveFiles(files.Within(0))
	ok, err := m.Match(func() {
		line = lineAfter()
		f, _ := os.CreateTemp("", "report-*.json")
		f.Close()
		name = f.Name()
	})
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	for _, want := range []string{
		"Expected the block not to leave files behind.\nThe block left 1 file or directory behind:\n\nfile " + name + "\n",
		fmt.Sprintf("created by the block at %s:%d", file, line),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

// The file probe runs in the combined checks when one of its options is
// given.
func TestHaveSideEffectsSeesFilesWhenAsked(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	var names []string
	leave := func() {
		f, _ := os.CreateTemp("", "left-*")
		f.Close()
		names = append(names, f.Name())
	}
	ok, err := HaveSideEffects(residue.WithoutGlobals()).Match(leave)
	if err != nil || ok {
		t.Fatalf("the file probe ran without being asked: %v, %v", ok, err)
	}
	m := HaveSideEffects(residue.WithoutGlobals(), files.Within(0))
	ok, err = m.Match(leave)
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	if msg := m.NegatedFailureMessage(nil); !strings.Contains(msg, "Files\n  The block left 1 file or directory behind:\n\n  file "+names[1]) {
		t.Errorf("message:\n%s", msg)
	}
}
