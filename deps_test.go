package residue_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// What every audited test binary links (package audit, the command's hook)
// does not include net: a module whose tests use no network gets no larger
// binary, and go test runs no cgo check (a gcc run per audit), for being
// audited. The descriptor probe recognises net's types by name.
func TestAuditedBinariesLinkNoNetworking(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/residue-go/residue/audit").Output()
	if err != nil {
		t.Fatal(err)
	}
	if deps := strings.Fields(string(out)); slices.Contains(deps, "net") {
		t.Error("package audit links net")
	}
}

// Neither the command's hook nor the probes link mime: its tables (a
// thousand types and more, read from the system's mime.types files) would
// be loaded, snapshotted and kept in every process they check. The globals
// probe fills them before its first snapshot only where the program links
// mime (TestCleanBlocksInFreshProcessesReportNothing, "mime type lookup").
// The matchers link it through gomega, which links net/http.
func TestProbesLinkNoMime(t *testing.T) {
	const module = "github.com/residue-go/residue"
	pkgs := []string{module, module + "/audit", module + "/globals", module + "/fds", module + "/leak", module + "/procs", module + "/files", module + "/alloc"}
	out, err := exec.Command("go", append([]string{"list", "-deps"}, pkgs...)...).Output()
	if err != nil {
		t.Fatal(err)
	}
	if deps := strings.Fields(string(out)); slices.Contains(deps, "mime") {
		t.Error("residue's probes or the command's hook link mime")
	}
}
