package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/leak"
)

// LeakGoroutines succeeds when the block leaves goroutines running: ones it
// started, directly or through other goroutines, that are still alive after
// it returned and the settle window (leak.Within, default 1s) passed. Use it
// with NotTo. Goroutines started by anything else, such as tests running in
// parallel, are never counted.
func LeakGoroutines(opts ...leak.Option) types.GomegaMatcher {
	return &probeMatcher[*leak.Report]{
		name: "LeakGoroutines", verb: "leak goroutines",
		find: probeFind("goroutines", opts),
		none: func(r *leak.Report) string {
			return "it left none running (settle window " + r.Within.String() + ")"
		},
	}
}
