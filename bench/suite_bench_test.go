package bench

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// suiteSpecs is the number of specs in ./suite.
const suiteSpecs = 300

// buildSuite compiles ./suite into a test binary that keeps its debug info
// (MutateGlobals and CheckEverySpec read it), once per benchmark process.
func buildSuite(b *testing.B) string {
	b.Helper()
	if suiteBinary != "" {
		return suiteBinary
	}
	dir, err := os.MkdirTemp("", "residue-bench-suite")
	if err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "suite.test")
	cmd := exec.Command("go", "test", "-c", "-ldflags=-w=0", "-o", bin, "./suite")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building ./suite: %v\n%s", err, out)
	}
	suiteBinary = bin
	return bin
}

var suiteBinary string

// TestMain removes the suite binary built by the benchmarks.
func TestMain(m *testing.M) {
	code := m.Run()
	if suiteBinary != "" {
		os.RemoveAll(filepath.Dir(suiteBinary))
	}
	os.Exit(code)
}

// BenchmarkGinkgoSuite runs the 300-spec suite in ./suite once per
// operation, in its own process, in each mode: without checks, with
// goleak.VerifyNone in an AfterEach, with gleak's HaveLeaked checked after
// each spec, with CheckEverySpec(WithoutGlobals())
// and with CheckEverySpec(). ms/spec is the whole run divided by the number
// of specs; it includes starting the process and Ginkgo, which the "plain"
// mode shows alone.
func BenchmarkGinkgoSuite(b *testing.B) {
	bin := buildSuite(b)
	for _, mode := range []string{"plain", "goleak", "gleak", "without-globals", "every"} {
		b.Run("mode="+mode, func(b *testing.B) {
			var elapsed time.Duration
			for b.Loop() {
				cmd := exec.Command(bin, "-test.count=1")
				cmd.Dir = "suite"
				cmd.Env = append(os.Environ(), "RESIDUE_BENCH_SUITE_MODE="+mode)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				start := time.Now()
				err := cmd.Run()
				elapsed += time.Since(start)
				if err != nil {
					b.Fatalf("suite in mode %s: %v\n%s", mode, err, out.Bytes())
				}
			}
			b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(b.N*suiteSpecs), "ms/spec")
		})
	}
}
