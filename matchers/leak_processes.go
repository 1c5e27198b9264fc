package matchers

import (
	"github.com/onsi/gomega/types"

	"github.com/residue-go/residue/procs"
)

// LeakProcesses succeeds when the block leaves child processes behind: ones
// it started, on its own goroutine or through goroutines it started, that
// are still running, or that exited and were never waited for (zombies),
// after it returned and the settle window (procs.Within, default 1s)
// passed. Use it with NotTo. The failure message gives each process's PID,
// command line and state, and the stack that started it, down to the
// block's own line. Children that existed before the block ran are never
// counted, and those that other probed blocks start meanwhile are not
// blamed.
//
//	Expect(func() { exec.Command("sleep", "30").Start() }).NotTo(LeakProcesses())
func LeakProcesses(opts ...procs.Option) types.GomegaMatcher {
	return &probeMatcher[*procs.Report]{
		name: "LeakProcesses", verb: "leak child processes",
		find: probeFind("processes", opts),
		none: func(r *procs.Report) string {
			return "it left none behind (settle window " + r.Within.String() + ")"
		},
	}
}
