package globals

import (
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/internal/text"
)

// What a check can attribute. Global state belongs to the whole process: a
// snapshot cannot tell who changed a variable, only that it changed
// between the snapshot before the block and the one after. A change is the
// block's when nothing else ran meanwhile that could make it: the block's
// own goroutines are the block's (whatever they change before the second
// snapshot counts), and so are nested checks inside the block. Two things
// are not the block's and cannot be told apart from it: other checks
// (probed runs) under way at the same time, and tests running in parallel
// (t.Parallel, ginkgo -p runs specs in separate processes and is safe).
// Their changes are reported like the block's, and the report says they
// ran (Report.Concurrent), naming them: the change may be theirs.
//
// They are seen in the goroutines alive when each snapshot is taken (looked
// at before it, and after it too when tests were waiting to run): the
// runners of other checks' blocks (probes.RunnerOf), and goroutines running
// a test function (under testing.tRunner) other than the caller, that are
// not waiting for their subtests or for their turn to run in parallel. A
// check or a test that started and ended entirely inside the block is not
// seen.

// company is what ran beside a check when a snapshot was taken.
type company struct {
	runs  map[uint64]bool // other runs' IDs
	tests map[string]bool // test functions
	// waiting is set when a goroutine other than the check's own waited
	// in the testing package (a test paused in t.Parallel, or waiting for
	// its subtests): it may run while the snapshot is taken, unseen by a
	// look made before it (again).
	waiting bool
}

// companyOf lists the other runs and the running tests of the process,
// leaving out run and its caller's own (the goroutine calling, and the
// runs it is part of). With settle, as before the first snapshot, it first
// lets stragglers run (see stragglers). With shared, the look may be one
// another probe of run has just taken (probes.Run.SharedLook); the looks
// it takes are shared in turn.
func companyOf(run *probes.Run, settle, shared bool) company {
	c := company{runs: map[uint64]bool{}, tests: map[string]bool{}}
	var runners []uint64
	if run != nil {
		runners = run.Runners()
	}
	if settle && !skipPoll.Load() {
		pollNetwork()
	}
	dump, ok := "", false
	if shared && !settle && run != nil {
		dump, ok = run.SharedLook()
	}
	if !ok {
		dump = look(run)
	}
	self, _ := stack.CallerText(dump)
	all := stack.ParseDump(dump)
	// Each look stops the world to dump every stack: the pauses between
	// looks double, so that a goroutine that keeps running (a busy loop an
	// earlier test left) costs a few looks, not hundreds.
	pause := 100 * time.Microsecond
	for deadline := time.Now().Add(stragglersFor); settle; pause *= 2 {
		left := stragglers(all, self, runners)
		if len(left) == 0 {
			break
		}
		if !time.Now().Before(deadline) {
			// Still running after the whole wait: busy goroutines (a
			// loop an earlier test left), not ones winding down. Every
			// later check would wait for them in vain.
			busy.Lock()
			for _, id := range left {
				busy.ids[id] = true
			}
			busy.Unlock()
			break
		}
		time.Sleep(min(pause, time.Until(deadline)))
		all = stack.ParseDump(look(run))
	}
	mine := map[*probes.Run]bool{probes.RunnerOf(self): true}
	if run != nil {
		mine[run] = true
	}
	// The goroutines that started run's own or the caller, such as the
	// test function whose RunSpecs runs an audited Ginkgo spec: the test
	// they are part of.
	ancestors := map[uint64]bool{}
	creator := make(map[uint64]uint64, len(all))
	for _, g := range all {
		creator[g.ID] = g.CreatorID
	}
	for _, id := range append(runners, self) {
		for c := creator[id]; c != 0 && !ancestors[c]; c = creator[c] {
			ancestors[c] = true
		}
	}
	for _, g := range all {
		// A test paused in t.Parallel, or waiting for its subtests, runs
		// no code now, even when its check has started.
		if g.ID == self || ancestors[g.ID] {
			continue
		}
		if g.WaitsInTesting() {
			c.waiting = true
			continue
		}
		// A check whose block runs on one of run's own goroutines checks
		// the same code (a suite's own CheckEverySpec around an audited
		// spec): not another test.
		if other := probes.RunnerOf(g.ID); other != nil && !mine[other] && !other.Encloses(run) && !slices.Contains(runners, g.ID) {
			c.runs[other.ID()] = true
		}
		if t := runningTest(&g); t != "" {
			c.tests[t] = true
		}
	}
	return c
}

// look dumps every goroutine's stack, for run's other probes too.
func look(run *probes.Run) string {
	dump := stack.DumpText()
	if run != nil {
		run.ShareLook(dump)
	}
	return dump
}

// pollNetwork makes the scheduler poll the network, so that a goroutine
// blocked on a descriptor whose data has already come (a client's read
// loop, an earlier test's server) is ready to run when the stacks are
// dumped next, and is a straggler the look sees. The runtime polls the
// network, without waiting, as it starts the world again after stopping
// it, which reading the memory statistics does. A sleep would let an idle
// scheduler poll as well, but it sleeps a millisecond at the least once
// nothing else runs: that was half of the first check's time over a
// module's tests.
func pollNetwork() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
}

// skipPoll makes companyOf look for stragglers without letting the
// scheduler poll the network first: only a test of what the poll changes
// sets it.
var skipPoll atomic.Bool

// stragglersFor bounds how long the first snapshot waits for stragglers.
const stragglersFor = 50 * time.Millisecond

// stragglers returns the goroutines that are no test's and no check's and
// are running or ready to run: one winding down for something that has
// ended, such as the goroutine with which a Ginkgo suite stops listening
// for signals (signal.Stop) once RunSpecs has returned. What it changes
// next would land between the block's snapshots and pass for the block's,
// so the first snapshot is taken once it has run (blocked or ended), for
// stragglersFor at the most.
func stragglers(all []stack.Goroutine, self uint64, runners []uint64) []uint64 {
	busy.Lock()
	defer busy.Unlock()
	var out []uint64
	for i := range all {
		g := &all[i]
		if g.State != "runnable" && g.State != "running" || g.ID == self || slices.Contains(runners, g.ID) ||
			busy.ids[g.ID] || probes.RunnerOf(g.ID) != nil || strings.Contains(g.Raw, "testing.tRunner") {
			continue
		}
		out = append(out, g.ID)
	}
	return out
}

// busy holds the goroutines that were still running or ready to run when
// a first snapshot had waited stragglersFor for them: they are not waited
// for again. (Goroutine IDs are not reused.)
var busy = struct {
	sync.Mutex
	ids map[uint64]bool
}{ids: map[uint64]bool{}}

// runningTest returns the test function a goroutine runs, or "" when it
// runs none or waits: for its subtests (in T.Run or at the end of
// tRunner), or for its parent before running in parallel.
func runningTest(g *stack.Goroutine) string {
	if !strings.Contains(g.Raw, "testing.tRunner") {
		return ""
	}
	g.ParseFrames()
	for i, f := range g.Frames {
		switch {
		case strings.HasPrefix(f.Func, "testing.tRunner.func"):
			return ""
		case f.Func == "testing.tRunner":
			if i > 0 {
				return g.Frames[i-1].Func
			}
			return ""
		}
	}
	return ""
}

// around takes a snapshot between two looks at what runs beside run when
// the first look found tests waiting to run: one that resumed as the
// snapshot was taken, changed something and undid it before its own
// check, would otherwise be in no look, and its change would pass for
// the block's (fx's parallel tests register signal.Notify and undo it).
// changed, when given, says whether the snapshot differs from the first
// one: only then can the second look matter, and a suite with hundreds of
// tests waiting in t.Parallel takes one only where it must. settle is
// companyOf's for the first look, which after the block is the goroutine
// probe's last when it has just taken one (probes.Run.SharedLook); the
// second is always a look of its own.
func around(run *probes.Run, settle bool, snapshot func() (*snapshot, error), changed func(*snapshot) bool) (company, *snapshot, error) {
	c := companyOf(run, settle, true)
	s, err := snapshot()
	if err == nil && c.waiting && (changed == nil || changed(s)) {
		c.add(companyOf(run, false, false))
	}
	return c, s, err
}

func (c *company) add(o company) {
	for id := range o.runs {
		c.runs[id] = true
	}
	for t := range o.tests {
		c.tests[t] = true
	}
	c.waiting = c.waiting || o.waiting
}

// describe says what else ran, for Report.Concurrent.
func (c company) describe() []string {
	var out []string
	if len(c.runs) > 0 {
		ids := make([]uint64, 0, len(c.runs))
		for id := range c.runs {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		s := make([]string, len(ids))
		for i, id := range ids {
			s[i] = strconv.FormatUint(id, 10)
		}
		out = append(out, text.Plural(len(ids), "other check")+" (runs "+strings.Join(s, ", ")+")")
	}
	if len(c.tests) > 0 {
		ts := make([]string, 0, len(c.tests))
		for t := range c.tests {
			ts = append(ts, t)
		}
		slices.Sort(ts)
		out = append(out, text.Plural(len(ts), "test")+" running in parallel: "+strings.Join(ts, ", "))
	}
	return out
}
