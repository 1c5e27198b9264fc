package globals_test

import (
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The blocks of testdata/corpus that change global state on purpose, with
// the variables each must be reported for. Every other block must be
// reported for nothing. docs/globals.md has the table, with why.
var corpusMutations = map[string][]string{
	"log.SetOutput":       {"log.std"},                           // log.SetOutput and SetFlags on the standard logger
	"log/slog.SetDefault": {"log.std", "log/slog.defaultLogger"}, // slog.SetDefault redirects package log too
	"os.Setenv":           {"environment"},                       // os.Setenv
}

var (
	corpusOnce sync.Once
	corpusExe  string
	corpusErr  error
)

func corpusBinary(t *testing.T) string {
	t.Helper()
	corpusOnce.Do(func() {
		dir := filepath.Dir(scenarioBinary(t, "-w=0"))
		corpusExe = filepath.Join(dir, "corpus")
		out, err := exec.Command("go", "build", "-ldflags=-w=0", "-o", corpusExe, "./testdata/corpus").CombinedOutput()
		if err != nil {
			corpusErr = &buildError{"-w=0", err, out}
		}
	})
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpusExe
}

// Each block does the work of the runnable examples of one standard-library
// package, as the first thing a fresh process does, under default options.
func TestPrecisionCorpus(t *testing.T) {
	exe := corpusBinary(t)
	out, err := exec.Command(exe, "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(strings.TrimSpace(string(out)), "\n")
	pkgs := map[string]bool{}
	for _, b := range blocks {
		pkg, _, _ := strings.Cut(b, ".")
		pkgs[pkg] = true
	}
	t.Logf("%d blocks, %d packages", len(blocks), len(pkgs))
	if len(pkgs) < 40 {
		t.Errorf("the corpus covers %d packages, want at least 40", len(pkgs))
	}
	for _, b := range blocks {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			res := runProgram(t, exe, b)
			var got []string
			for v := range res.changes {
				got = append(got, v)
			}
			slices.Sort(got)
			want := corpusMutations[b]
			if !slices.Equal(got, want) {
				t.Errorf("reported for %v, want %v:\n%s", got, want, res.report)
			}
		})
	}
}
