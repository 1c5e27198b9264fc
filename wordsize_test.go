//go:build 386 || arm || mips || mipsle

package residue_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/globals"
	"github.com/residue-go/residue/internal/env"
)

// On a 32-bit platform the globals probe, which reads Go's 64-bit memory
// layouts, refuses with an error instead of reading memory wrongly, and a
// combined check stands it aside, saying so, and checks the rest.
// scripts/test runs this with GOARCH=386.
func TestGlobalsStandAsideOn32BitPlatforms(t *testing.T) {
	t.Setenv(env.RequireGlobals, "") // scripts/test sets it: here the probe must stand aside
	_, err := globals.Find(func() { Registry["c"] = 3 }, only)
	defer delete(Registry, "c")
	if !errors.Is(err, env.ErrWordSize) || !strings.Contains(err.Error(), "32 bits") {
		t.Fatalf("globals.Find: %v", err)
	}
	var ln net.Listener
	report, err := residue.Find(func() {
		ln, _ = net.Listen("tcp", "127.0.0.1:0")
		Registry["d"] = 4
	}, quick, only)
	defer delete(Registry, "d")
	if ln != nil {
		defer ln.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	msg := report.String()
	if len(residue.Of[*fds.Report](report).FDs) != 1 || !strings.Contains(msg, "global state was not checked: cannot snapshot package-level variables on linux/386") {
		t.Fatalf("report:\n%s", msg)
	}
}
