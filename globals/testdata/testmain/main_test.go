// Package testmain checks a whole test binary's run, TestMain's m.Run,
// under globals.Find, and writes the report to the file named by
// $RESIDUE_TESTMAIN_OUT. What the testing package sets up (its flags, its
// parse of the command line) is not the tests' doing.
package testmain

import (
	"flag"
	"os"
	"testing"

	"github.com/residue-go/residue/globals"
)

var verbose = flag.Bool("testmain.verbose", false, "a flag of the package under test")

func TestNothing(t *testing.T) {
	if *verbose {
		t.Log("verbose")
	}
}

func TestMain(m *testing.M) {
	var code int
	report, err := globals.Find(func() { code = m.Run() })
	out := "ERROR: " + func() string {
		if err != nil {
			return err.Error()
		}
		return ""
	}()
	if err == nil {
		out = report.String()
	}
	if path := os.Getenv("RESIDUE_TESTMAIN_OUT"); path != "" {
		_ = os.WriteFile(path, []byte(out), 0o644)
	}
	os.Exit(code)
}
