package residue_test

import (
	"os"
	"strings"
	"testing"

	"github.com/residue-go/residue"
)

// TestCheckFindsWhatTheTestOpened: a descriptor the test's own goroutine
// opens, with no marker frame on its stack, is the test's.
func TestCheckFindsWhatTheTestOpened(t *testing.T) {
	var f *os.File
	ft := &fakeT{}
	residue.Check(ft, quick, residue.WithoutGlobals())
	f, err := os.Open("testing.go")
	if err != nil {
		t.Fatal(err)
	}
	ft.end()
	f.Close()
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "fd ") || !strings.Contains(ft.errors[0], "adopt_test.go:17") {
		t.Fatalf("errors: %q", ft.errors)
	}
}
