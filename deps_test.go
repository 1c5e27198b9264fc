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
