package matchers_test

import (
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onsi/gomega"

	"github.com/residue-go/residue/globals"
	. "github.com/residue-go/residue/matchers"
)

const matchersTest = "github.com/residue-go/residue/matchers_test"

type appConfig struct {
	Timeout time.Duration
	Hosts   []string
}

var (
	appRegistry = map[string]int{"a": 1}
	appSettings = &appConfig{Timeout: 5 * time.Second}
)

// expectFailure runs one assertion and returns the failure message, "" when
// it passed.
func expectFailure(assert func(g gomega.Gomega)) (message string) {
	g := gomega.NewGomega(func(msg string, _ ...int) { message = msg })
	assert(g)
	return message
}

func TestMutateGlobalsNamesTheVariableByPath(t *testing.T) {
	defer func() {
		delete(appRegistry, "b")
		appSettings.Timeout = 5 * time.Second
	}()
	msg := expectFailure(func(g gomega.Gomega) {
		g.Expect(func() {
			appRegistry["b"] = 2
			appSettings.Timeout = 10 * time.Second
		}).NotTo(MutateGlobals(globals.InPackages(matchersTest)))
	})
	want := "Expected the block not to change global state.\n" +
		"The block changed 2 package-level variables (2 changes):\n" +
		"\n" +
		"    " + matchersTest + `.appRegistry: added "b": 2` + "\n" +
		"\n" +
		"    " + matchersTest + ".appSettings.Timeout: 5s → 10s"
	if msg != want {
		t.Errorf("got\n%s\nwant\n%s", msg, want)
	}
}

func TestMutateGlobalsPassesOnACleanBlockWithTheDefaultScope(t *testing.T) {
	msg := expectFailure(func(g gomega.Gomega) {
		g.Expect(func() {
			_ = strings.Repeat("x", 10)
			_ = appRegistry["a"]
		}).NotTo(MutateGlobals())
	})
	if msg != "" {
		t.Errorf("a clean block failed:\n%s", msg)
	}
}

func TestMutateGlobalsWithToSaysNothingChanged(t *testing.T) {
	msg := expectFailure(func(g gomega.Gomega) {
		g.Expect(func() {}).To(MutateGlobals(globals.InPackages(matchersTest)))
	})
	if !strings.HasPrefix(msg, "Expected the block to change global state, but it changed none of the ") ||
		!strings.HasSuffix(msg, " package-level variables read, nor the environment, working directory or os.Args") {
		t.Errorf("got\n%s", msg)
	}
}

func TestMutateGlobalsReportsProcessState(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RESIDUE_MATCHER_VAR", "before")
	t.Chdir(".")
	msg := expectFailure(func(g gomega.Gomega) {
		g.Expect(func() {
			_ = os.Setenv("RESIDUE_MATCHER_VAR", "after")
			_ = os.Chdir(dir)
		}).NotTo(MutateGlobals(globals.Watching(&appRegistry)))
	})
	for _, want := range []string{
		"The block changed environment and working directory (2 changes):",
		`$RESIDUE_MATCHER_VAR: "before" → "after"`,
		`working directory: "`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
}

func TestMutateGlobalsRejectsWhatIsNotABlock(t *testing.T) {
	_, err := MutateGlobals().Match(42)
	if err == nil || !strings.Contains(err.Error(), "MutateGlobals expects a block of type func()") {
		t.Errorf("got %v", err)
	}
}

// When another check runs while the block does, the failure message says
// that a change may be the other check's.
func TestMutateGlobalsSaysWhenOtherChecksRanMeanwhile(t *testing.T) {
	defer delete(appRegistry, "c")
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var startOnce sync.Once
	var otherErr error
	go func() {
		defer close(done)
		// Without debug info the block never runs: say so instead of waiting.
		defer startOnce.Do(func() { close(started) })
		_, otherErr = globals.Find(func() {
			startOnce.Do(func() { close(started) })
			<-release
		}, globals.InPackages(matchersTest))
	}()
	<-started
	select {
	case <-done:
		t.Fatalf("the other check ended before its block ran: %v", otherErr)
	default:
	}
	msg := expectFailure(func(g gomega.Gomega) {
		g.Expect(func() { appRegistry["c"] = 3 }).NotTo(MutateGlobals(globals.InPackages(matchersTest)))
	})
	close(release)
	<-done
	for _, want := range []string{
		matchersTest + `.appRegistry: added "c": 3`,
		"Other checks ran at the same time: a change may be theirs.",
		"1 other check (runs ",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("missing %q in\n%s", want, msg)
		}
	}
}
