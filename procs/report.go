package procs

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/origin"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }

func (r *section) Title() string { return "Child processes" }

// Findings lists one finding per group of processes of
// the same program started at the same place.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	return probes.GroupFindings(len(r.Processes), func(i int) string { return r.Processes[i].key() }, func(i int) string { return r.Processes[i].summary() })
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "processes", Value: int64(len(r.Processes))}}
}

// key names the process by its program and the function that started it:
// no PIDs, arguments, states or lines.
func (p *Process) key() string {
	return "process " + p.program() + " started by " + origin.Maker(p.Started, p.StartedAt)
}

// summary describes the process in one line: "pid 4242: sleep 30
// (sleeping)".
func (p *Process) summary() string {
	return fmt.Sprintf("pid %d: %s (%s)", p.PID, p.command(), p.State)
}

// String formats the report as a failure message: a headline, then one
// block per process with what it is, what to do about it, and the stack
// that started it.
func (r *Report) String() string {
	if r == nil || len(r.Processes) == 0 {
		return "The block left no child processes behind."
	}
	return text.Leftovers("The block left "+text.Plural(len(r.Processes), "child process", "child processes")+" behind",
		r.Within, false, r.Processes, writeProcess,
		"Also started while the block ran, and not counted as the block's (their stacks tie them to another probed block running at the same time, or nothing ties them to this one)",
		r.Others, (*Process).summary)
}

func writeProcess(b *strings.Builder, p *Process) {
	if p.Zombie {
		b.WriteString("    exited, but never waited for: call cmd.Wait (or use cmd.Run, cmd.Output) so the kernel can let it go\n")
	} else {
		b.WriteString("    still running: stop it (cmd.Process.Kill, or a context given to exec.CommandContext) and wait for it (cmd.Wait)\n")
	}
	if len(p.OneOf) > 1 {
		fmt.Fprintf(b, "    one of pids %s: another probed block running at the same time started processes too, so which of them is this block's cannot be told\n", joinInts(p.OneOf))
	}
	switch {
	case origin.WriteSites(b, "started", origin.Subject(p.adopted), p.By == "block", p.Started, p.StartedAt, "the block started processes at each"):
	case p.By == "alone" && p.unrecorded:
		fmt.Fprintf(b, "    started while the block ran, no stack: %s; no other probed block was running\n", memprof.BudgetNote())
	case p.By == "alone":
		b.WriteString("    started while the block ran, by a call that left no stack (a raw fork, C code); no other probed block was running\n")
	}
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}
