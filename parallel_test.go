package residue_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/residue-go/residue"
)

// Which test runs in parallel decides whether Check judges global state,
// and what its report names as running beside the test. Each case runs this
// binary again on one test, as TestCheckLogsGlobalChangesOfParallelTests
// does.
func TestCheckNamesOnlyWhatRanBesideTheTest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the test binary again")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		test, env string
		fail      bool
		want      []string
		not       []string
	}{
		// A subtest of a parallel test runs beside the other parallel
		// tests: logged, not judged, naming the parent that is parallel.
		{"TestSubtestOfParallelParentForCheck", "RESIDUE_PARALLEL_CHILD", false,
			[]string{"residue.Check: not judged, as its parent test TestSubtestOfParallelParentForCheck runs in parallel with other tests",
				`residue_test.Registry: added "sub of parallel"`},
			nil},
		// A parent waiting for its subtests is not parallel, and its own
		// Check encloses the subtest's: the subtest's report is judged and
		// names neither as running beside it.
		{"TestSubtestOfCheckedParentForCheck", "RESIDUE_PARALLEL_CHILD", true,
			[]string{"residue.Check: The test left side effects (global state)", `residue_test.Registry: added "sub of checked"`},
			[]string{"not judged", "other check", "running in parallel"}},
		// Nor is VerifyTestMain's run, which encloses every test.
		{"TestSubtestOfCheckedParentForCheck", "RESIDUE_VERIFY_TEST_MAIN", true,
			[]string{"residue.Check: The test left side effects (global state)", `residue_test.Registry: added "sub of checked"`},
			[]string{"not judged", "other check", "running in parallel"}},
	} {
		t.Run(c.test+"/"+c.env, func(t *testing.T) {
			cmd := exec.Command(exe, "-test.run=^"+c.test+"$", "-test.v")
			cmd.Env = append(os.Environ(), c.env+"=1")
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.fail {
				t.Errorf("want failed %v, got err %v", c.fail, err)
			}
			for _, w := range c.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, n := range c.not {
				if strings.Contains(string(out), n) {
					t.Errorf("output has %q", n)
				}
			}
			if t.Failed() {
				t.Logf("output:\n%s", out)
			}
		})
	}
}

func TestSubtestOfParallelParentForCheck(t *testing.T) {
	if os.Getenv("RESIDUE_PARALLEL_CHILD") == "" {
		t.Skip("run by TestCheckNamesOnlyWhatRanBesideTheTest")
	}
	t.Parallel()
	t.Run("sub", func(t *testing.T) {
		residue.Check(t, quick, only)
		Registry["sub of parallel"] = 1
	})
	delete(Registry, "sub of parallel")
}

func TestSubtestOfCheckedParentForCheck(t *testing.T) {
	if os.Getenv("RESIDUE_PARALLEL_CHILD") == "" && os.Getenv("RESIDUE_VERIFY_TEST_MAIN") == "" {
		t.Skip("run by TestCheckNamesOnlyWhatRanBesideTheTest")
	}
	residue.Check(t, quick, only)
	t.Run("sub", func(t *testing.T) {
		residue.Check(t, quick, only)
		Registry["sub of checked"] = 1
	})
}
