package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/files"
)

// LeaveFiles succeeds when the block leaves files or directories behind in
// the temp directory (os.TempDir) or the working directory: ones it created
// and did not remove by the time it returned and the settle window
// (files.Within, default 1s) passed. Use it with NotTo. The failure message
// gives each path and the stack of the call that created it, down to the
// block's own line. What was there before the block ran is never counted,
// nor what testing's T.TempDir hands out (testing removes it).
//
//	Expect(func() { ExportReport(os.TempDir()) }).NotTo(LeaveFiles())
func LeaveFiles(opts ...files.Option) types.GomegaMatcher {
	return &probeMatcher[*files.Report]{
		name: "LeaveFiles", verb: "leave files behind",
		find: probeFind("files", opts),
		none: func(r *files.Report) string {
			return "it left none (settle window " + r.Within.String() + ")"
		},
	}
}
