// Package procs finds the child processes a block of code started and left
// behind: still running, or exited and never waited for (zombies). Each
// comes with its command line and the line of the block that started it.
//
//	report, err := procs.Find(func() { exec.Command("sleep", "30").Start() })
//	if err == nil && len(report.Processes) > 0 {
//		t.Error(report)
//	}
//
// Processes that were children of the test process before the block ran
// are never reported, and those that other probed blocks running at the
// same time started are not blamed on this one: the stack that started each
// process, recorded in the memory profile while the block runs, carries the
// block's marker frame. A process that exits and is waited for within the
// settle window (Within, default one second) is not reported.
package procs

import (
	"path/filepath"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/origin"
	"github.com/residue-go/residue/internal/probes"
)

// Process is a child process the block started and left behind.
type Process struct {
	PID int
	// Args is the command line; a zombie has none left, and Args then
	// holds the program's name only, as the kernel keeps it (at most 15
	// bytes).
	Args []string
	// State is the kernel's state in words: "sleeping", "running",
	// "waiting on I/O", "stopped" or "zombie".
	State string
	// Zombie is set when the process has exited but was never waited for
	// (exec.Cmd.Wait, os.Process.Wait): the kernel keeps it in the process
	// table until its parent does.
	Zombie bool
	// Started is the stack that started the process, innermost first, from
	// os.StartProcess out to the block's own line; nil when no stack was
	// recorded (a raw fork, C code).
	Started []probes.Frame
	// StartedAt lists the possible stacks when the block started processes
	// at several places and it cannot be told which one this is; Started is
	// then nil.
	StartedAt [][]probes.Frame
	// By says how the process is known to be the block's: "block" (started
	// on the block's goroutine), "goroutine" (by a goroutine the block
	// started), or "alone" (new while the block ran, no stack recorded, and
	// no other probed block ran).
	By string
	// OneOf is set when other probed blocks running at the same time also
	// started processes: this block's process is one of these PIDs, and
	// residue cannot tell which.
	OneOf []int

	adopted bool // a test checked as a whole adopted the run: "the test"
	// unrecorded: "alone" because the recording of allocation stacks had
	// stopped (memprof.StackBudget), not for want of a stack to record.
	unrecorded bool
}

// program returns the base name of the program.
func (p *Process) program() string {
	if len(p.Args) == 0 {
		return ""
	}
	return filepath.Base(p.Args[0])
}

// command returns the command line, arguments separated by spaces.
func (p *Process) command() string { return strings.Join(p.Args, " ") }

// Report lists the child processes a block left behind.
type Report struct {
	// Processes are the block's children still there after the settle
	// window.
	Processes []Process
	// Others are children that appeared while the block ran and are still
	// there, but that are not the block's: their stacks tie them to another
	// probed block, or nothing ties them to the block while other probed
	// blocks ran.
	Others []Process
	Within time.Duration // the settle window
	Waited time.Duration // how long the probe waited after the block returned
}

// probe finds the child processes a block started that are still there
// (running, or exited and not waited for) once it has returned and the
// settle window has passed. It implements probes.Probe. During the run it
// records every allocation (runtime.MemProfileRate = 1), which gives the
// stack that started each process.
type probe struct {
	cfg    config
	report *Report

	before    map[child]bool
	baseline  origin.Baseline
	span      *origin.Span
	beforeErr error
}

// child is a child process as procfs shows it; pid and start time together
// identify it even if the PID is reused.
type child struct {
	pid, ppid int
	start     uint64
	comm      string
	state     string
}

func (c child) id() child { return child{pid: c.pid, start: c.start} }

// kind registers the probe with the combined checks.
var kind = probes.Register(probes.NewKind(name, newProbe))

// newProbe returns a process probe. An invalid option is an error naming
// it.
func newProbe(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg}, err
}

// Report returns what the last run left (a *Report), or nil before a run.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.report)) }

// Find runs block once and reports the child processes it left behind. The
// error is set when an option is invalid, when the block panicked or called
// runtime.Goexit, or when the process table could not be read.
func Find(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(kind, block, opts))
}

var runs origin.Runs

// Before implements probes.Probe.
func (p *probe) Before(r *probes.Run) error {
	p.report = nil
	p.span = runs.Begin(r)
	// Published counts, without a GC: a process start of an earlier run not
	// yet published can only add a candidate place to a message.
	p.baseline = origin.Take()
	var cs []child
	cs, p.beforeErr = children()
	p.before = make(map[child]bool, len(cs))
	for _, c := range cs {
		p.before[c.id()] = true
	}
	r.RecordAllocations()
	return nil
}

// After implements probes.Probe: it settles, attributes and describes the
// new children, and records the report.
func (p *probe) After(r *probes.Run) error {
	defer p.span.End()
	if p.beforeErr != nil {
		return p.beforeErr
	}
	var fresh []child
	var err error
	r.Settle(p.cfg.within, func(_ int, _ bool) bool {
		var cs []child
		if cs, err = children(); err != nil {
			return true
		}
		fresh = fresh[:0]
		for _, c := range cs {
			if !p.before[c.id()] {
				fresh = append(fresh, c)
			}
		}
		return len(fresh) == 0
	})
	if err != nil {
		return err
	}
	rep := &Report{Within: p.cfg.within}
	if len(fresh) > 0 {
		p.attribute(r, fresh, rep)
	}
	rep.Waited = time.Since(r.Returned())
	p.report = rep
	return nil
}

// constructors are the functions that make an os.Process: one call per
// process started through os.StartProcess (and so os/exec).
func constructor(fn string) bool {
	return fn == "os.newHandleProcess" || fn == "os.newPIDProcess"
}

// attribute decides which new children are the block's: all of them when
// only the block's stacks started processes, as many as the block started
// when other probed blocks did too (each then one of the candidates), and,
// when no stack was recorded at all, all of them if no other probed block
// ran meanwhile.
func (p *probe) attribute(r *probes.Run, fresh []child, rep *Report) {
	sites := origin.Sites(p.baseline, r, constructor)
	alone := p.span.Alone()
	var mine []origin.Site
	var myN, otherN int64
	for _, s := range sites {
		if origin.Claim(&s, r, p.baseline, alone) {
			mine = append(mine, s)
			myN += s.Count
		} else {
			otherN += s.Count
		}
	}
	procs := make([]Process, len(fresh))
	pids := make([]int, len(fresh))
	for i, c := range fresh {
		procs[i] = c.describe()
		pids[i] = c.pid
	}
	for i := range procs {
		pr := &procs[i]
		switch {
		case myN == 0 && otherN == 0 && alone:
			pr.By, pr.unrecorded = "alone", r.StacksStopped()
		case myN == 0 || int64(i) >= myN && otherN > 0:
			rep.Others = append(rep.Others, *pr)
			continue
		default:
			pr.By, pr.adopted = "goroutine", r.Adopted()
			for _, s := range mine {
				if s.Owner == origin.Mine {
					pr.By = "block"
				}
			}
			if otherN > 0 {
				pr.OneOf = pids
			}
			setStarted(pr, mine)
		}
		if !p.cfg.ignored(pr) {
			rep.Processes = append(rep.Processes, *pr)
		}
	}
}

func setStarted(pr *Process, sites []origin.Site) {
	if len(sites) == 1 {
		pr.Started = startFrames(sites[0].Frames)
		return
	}
	for _, s := range sites {
		pr.StartedAt = append(pr.StartedAt, startFrames(s.Frames))
	}
}

// startFrames drops the frames inside os.StartProcess.
func startFrames(frames []probes.Frame) []probes.Frame {
	for i, f := range frames {
		if f.Func == "os.StartProcess" {
			return frames[i:]
		}
	}
	return frames
}
