package matchers

import (
	"strconv"

	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/globals"
)

// MutateGlobals succeeds when the block changes global state: a
// package-level variable (found through the binary's DWARF debug info, in
// the default scope of docs/globals.md unless globals.InPackages says
// otherwise), an environment variable, the working directory or os.Args.
// Use it with NotTo; the failure message lists each change by path:
//
//	Expect(func() { mime.AddExtensionType(".foo", "text/foo") }).NotTo(MutateGlobals())
//
// Without debug info (a plain `go test` or `ginkgo` strips it) the matcher
// fails with an error that says how to keep it, unless only
// globals.Watching variables are asked for. Lazy caches filling up are not
// changes; see the globals package.
func MutateGlobals(opts ...globals.Option) types.GomegaMatcher {
	return &probeMatcher[*globals.Report]{
		name: "MutateGlobals", verb: "change global state",
		find: probeFind("globals", opts),
		none: func(r *globals.Report) string {
			return "it changed none of the " + strconv.Itoa(r.Variables) +
				" package-level variables read, nor the environment, working directory or os.Args"
		},
	}
}
