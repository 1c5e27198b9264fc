package probes_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

type recorder struct {
	name   string
	log    *[]string
	failOn string
}

func (p recorder) Before(*probes.Run) error {
	*p.log = append(*p.log, "before "+p.name)
	if p.failOn == "before" {
		return errors.New(p.name + " failed before")
	}
	return nil
}

func (p recorder) After(*probes.Run) error {
	*p.log = append(*p.log, "after "+p.name)
	return nil
}

func (p recorder) Report() probes.Report { return nil }

func TestExecOrderAndPanic(t *testing.T) {
	var log []string
	_, err := probes.Exec(func() {
		log = append(log, "block")
		panic("boom")
	}, recorder{"a", &log, ""}, recorder{"b", &log, ""})
	var pe *probes.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("err = %v, want a PanicError with value boom", err)
	}
	if !strings.Contains(err.Error(), "the block panicked: boom") || !strings.Contains(string(pe.Stack), "probes_test.TestExecOrderAndPanic") {
		t.Errorf("panic error lacks the value or the panic site:\n%v", err)
	}
	if got := strings.Join(log, ", "); got != "before a, before b, block, after b, after a" {
		t.Errorf("order = %s", got)
	}
}

func TestExecStopsAtFailingBefore(t *testing.T) {
	var log []string
	_, err := probes.Exec(func() { log = append(log, "block") },
		recorder{"a", &log, ""}, recorder{"b", &log, "before"}, recorder{"c", &log, ""})
	if err == nil || err.Error() != "b failed before" {
		t.Fatalf("err = %v", err)
	}
	if got := strings.Join(log, ", "); got != "before a, before b, after a" {
		t.Errorf("order = %s (the block must not run, and only probes that started are ended)", got)
	}
}

func TestExecGoexit(t *testing.T) {
	_, err := probes.Exec(func() { runtime.Goexit() })
	var ge *probes.GoexitError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "runtime.Goexit") {
		t.Fatalf("err = %v, want a GoexitError", err)
	}
	// Reaching this line proves the caller's goroutine survived.
}

func TestExecLabelsTheBlockAndNestedRunsKeepOuterLabels(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var inner *probes.Run
	outer, err := probes.Exec(func() {
		inner, _ = probes.Exec(func() { go func() { <-stop }() })
	})
	if err != nil {
		t.Fatal(err)
	}
	if outer.Label() == inner.Label() || outer.Runners()[0] == inner.Runners()[0] {
		t.Fatalf("runs not distinct: %+v %+v", outer, inner)
	}
	expectBothLabels(t, outer, inner)
}

func TestConcurrentRunsHaveDistinctMarkers(t *testing.T) {
	const n = probes.MaxExclusiveRuns
	var (
		wg      sync.WaitGroup
		ready   sync.WaitGroup
		release = make(chan struct{})
		runs    = make([]*probes.Run, n+1)
	)
	ready.Add(n + 1)
	for i := range n + 1 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i], _ = probes.Exec(func() { ready.Done(); <-release })
		}()
	}
	ready.Wait()
	close(release)
	wg.Wait()
	seen := map[string]bool{}
	shared := 0
	for _, r := range runs {
		if !r.Exclusive() {
			shared++
			continue
		}
		if seen[r.Marker()] {
			t.Errorf("marker %s used by two concurrent runs", r.Marker())
		}
		seen[r.Marker()] = true
	}
	if shared != 1 || len(seen) != n {
		t.Errorf("%d exclusive markers and %d shared, want %d and 1", len(seen), shared, n)
	}
	if r, _ := probes.Exec(func() {}); !r.Exclusive() || !strings.HasPrefix(r.Marker(), "github.com/residue-go/residue/internal/probes.callBlock") {
		t.Errorf("markers not returned to the pool: %+v", r)
	}
}

func TestLabelIsInheritedByGrandchildrenAfterParentExits(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r, _ := probes.Exec(func() {
		done := make(chan struct{})
		go func() { go func() { <-stop }(); close(done) }()
		<-done
	})
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	if !strings.Contains(b.String(), `"`+r.Label()+`":"block"`) {
		t.Fatal("grandchild lost the run's label")
	}
}

// A run may span several calls of Enter, from several goroutines, as the
// nodes of one Ginkgo spec do; panics pass through Enter to the caller.
func TestStartEnterFinish(t *testing.T) {
	var log []string
	r, err := probes.Start(recorder{"a", &log, ""})
	if err != nil {
		t.Fatal(err)
	}
	r.Enter(func() { log = append(log, "node 1") })
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { log = append(log, fmt.Sprint("recovered ", recover())) }()
		r.Enter(func() { panic("node 2 failed") })
	}()
	<-done
	if len(r.Runners()) != 2 || r.Runners()[0] == r.Runners()[1] {
		t.Errorf("runners %v", r.Runners())
	}
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(log, ", "); got != "before a, node 1, recovered node 2 failed, after a" {
		t.Errorf("order = %s", got)
	}
	if probes.RunnerOf(r.Runners()[0]) != nil {
		t.Error("finished run still registered")
	}
}

// A run started on a goroutine that another run's block started (not on
// that run's runner) still carries the outer label, so the outer run sees
// what the inner block leaves behind.
func TestNestedRunOnAGoroutineOfTheOuterBlockKeepsOuterLabel(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	var inner *probes.Run
	outer, err := probes.Exec(func() {
		done := make(chan struct{})
		go func() {
			defer close(done)
			inner, _ = probes.Exec(func() { go func() { <-stop }() })
		}()
		<-done
	})
	if err != nil {
		t.Fatal(err)
	}
	expectBothLabels(t, outer, inner)
}

// Adopt gives the goroutine back exactly the labels it had, the user's own
// included.
func TestAdoptRestoresTheGoroutinesOwnLabels(t *testing.T) {
	pprof.Do(context.Background(), pprof.Labels("user", "mine"), func(ctx context.Context) {
		r, err := probes.Start()
		if err != nil {
			t.Fatal(err)
		}
		restore := r.Adopt()
		restore()
		_ = r.Finish()
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
		if !strings.Contains(b.String(), `{"user":"mine"}`) {
			t.Fatalf("the user's label was lost after Adopt's restore; profile:\n%s", b.String())
		}
	})
}

// Under GODEBUG=panicnil=1, panic(nil) is recovered as nil, as a Goexit
// is; it must still be reported as a panic. The check runs in a child
// process, where the setting can be made.
func TestPanicNilUnderPanicnilIsAPanic(t *testing.T) {
	if os.Getenv("RESIDUE_PANICNIL_CHILD") == "1" {
		_, err := probes.Exec(func() { panic(nil) })
		var pe *probes.PanicError
		if !errors.As(err, &pe) {
			t.Fatalf("err = %v, want a PanicError", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPanicNilUnderPanicnilIsAPanic$", "-test.v")
	cmd.Env = append(os.Environ(), "RESIDUE_PANICNIL_CHILD=1", "GODEBUG=panicnil=1")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// After a nested run on the same goroutine finishes, that goroutine is
// again known as the outer run's runner.
func TestNestedRunGivesTheRunnerBack(t *testing.T) {
	var inner, during, after *probes.Run
	outer, err := probes.Exec(func() {
		id := stack.CurrentID()
		in, _ := probes.Start()
		restore := in.Adopt()
		during = probes.RunnerOf(id)
		inner = in
		restore()
		_ = in.Finish()
		after = probes.RunnerOf(id)
	})
	if err != nil {
		t.Fatal(err)
	}
	if during != inner || after != outer {
		t.Fatalf("runner of the goroutine: %p during the inner run (want %p), %p after it (want the outer %p)", during, inner, after, outer)
	}
}

// The settle-window option every waiting probe offers sets the window, and
// names itself in the error for a negative one.
func TestWithinSetting(t *testing.T) {
	type config struct{ within time.Duration }
	option := probes.Settings[config]{Probe: "p", Pkg: "pkg"}
	set := func(c *config, d time.Duration) { c.within = d }
	c, err := probes.Configure(config{}, []probes.Setting[config]{option.Within(2*time.Second, set)})
	if err != nil || c.within != 2*time.Second {
		t.Fatalf("window %v, err %v", c.within, err)
	}
	c, err = probes.Configure(c, []probes.Setting[config]{option.Within(-time.Second, set)})
	if err == nil || err.Error() != "pkg.Within(-1s): the settle window must not be negative" || c.within != 2*time.Second {
		t.Fatalf("err %v, window %v", err, c.within)
	}
}

// A glob option adds a valid glob, and names itself and what the glob
// should match for an empty or malformed one.
func TestGlobSetting(t *testing.T) {
	type config struct{ globs []string }
	option := probes.Settings[config]{Probe: "p", Pkg: "pkg"}
	glob := func(g string) probes.Setting[config] {
		return option.Glob("IgnoringPath", g, "path", func(c *config) { c.globs = append(c.globs, g) })
	}
	c, err := probes.Configure(config{}, []probes.Setting[config]{glob("/tmp/x-*")})
	if err != nil || len(c.globs) != 1 || c.globs[0] != "/tmp/x-*" {
		t.Fatalf("globs %q, err %v", c.globs, err)
	}
	for _, g := range []string{"", "["} {
		_, err := probes.Configure(config{}, []probes.Setting[config]{glob(g)})
		if want := "pkg.IgnoringPath(" + strconv.Quote(g) + "): not a path pattern of path/filepath.Match"; err == nil || err.Error() != want {
			t.Errorf("glob %q: err %v, want %s", g, err, want)
		}
	}
}

type countReport struct{ n int }

func (*countReport) Title() string              { return "Counts" }
func (*countReport) Findings() []probes.Finding { return nil }
func (*countReport) Counts() []probes.Count     { return nil }
func (*countReport) String() string             { return "" }
func (r *countReport) Value() fmt.Stringer      { return r }

// A probe's nil report becomes a nil Report, not an interface holding nil.
func TestReportOf(t *testing.T) {
	var none *countReport
	if r := probes.ReportOf(none); r != nil {
		t.Fatalf("ReportOf(nil) = %#v, want nil", r)
	}
	if r := probes.ReportOf(&countReport{1}); r == nil || r.(*countReport).n != 1 {
		t.Fatalf("ReportOf lost the report: %#v", r)
	}
}

// rateProbe asks for allocations to be recorded and notes the profiling
// rate it sees in its own Before and After.
type rateProbe struct{ before, after *int }

func (p rateProbe) Before(r *probes.Run) error {
	r.RecordAllocations()
	*p.before = runtime.MemProfileRate
	return nil
}
func (p rateProbe) After(*probes.Run) error { *p.after = runtime.MemProfileRate; return nil }
func (p rateProbe) Report() probes.Report   { return nil }

// TestAllocationsAreRecordedOnlyWhileTheBlockRuns checks that a probe's
// RecordAllocations records the block's allocations but not the probes' own
// work around it, which would cost a stack walk per allocation.
func TestAllocationsAreRecordedOnlyWhileTheBlockRuns(t *testing.T) {
	user := runtime.MemProfileRate
	var before, after, during, laterBefore int
	_, err := probes.Exec(func() { during = runtime.MemProfileRate },
		rateProbe{&before, new(int)},
		rateProbe{&laterBefore, &after})
	if err != nil {
		t.Fatal(err)
	}
	if during != 1 {
		t.Errorf("MemProfileRate while the block ran = %d, want 1", during)
	}
	if before != user || laterBefore != user || after != user {
		t.Errorf("MemProfileRate in the probes' Before = %d and %d, in After = %d; want the process's own %d",
			before, laterBefore, after, user)
	}
	if runtime.MemProfileRate != user {
		t.Errorf("MemProfileRate after the run = %d, want %d", runtime.MemProfileRate, user)
	}
}

// A block paused while other blocks run (a test in t.Parallel) records
// nothing meanwhile: the others' allocations, and their checks', would
// each cost a stack walk. It records again once resumed.
func TestAPausedBlockDoesNotRecord(t *testing.T) {
	user := runtime.MemProfileRate
	r, err := probes.Start(rateProbe{new(int), new(int)})
	if err != nil {
		t.Fatal(err)
	}
	if runtime.MemProfileRate != 1 {
		t.Fatalf("MemProfileRate once the run started = %d, want 1", runtime.MemProfileRate)
	}
	r.Pausing()
	paused := runtime.MemProfileRate
	r.Resumed()
	resumed := runtime.MemProfileRate
	if err := r.Finish(); err != nil {
		t.Fatal(err)
	}
	if paused != user || resumed != 1 || runtime.MemProfileRate != user {
		t.Fatalf("MemProfileRate paused = %d, resumed = %d, after the run = %d; want %d, 1, %d",
			paused, resumed, runtime.MemProfileRate, user, user)
	}
}

// expectBothLabels fails t unless a goroutine carries the labels of both
// runs: the inner one was started inside the outer one's block.
func expectBothLabels(t *testing.T, outer, inner *probes.Run) {
	t.Helper()
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
	want := `"` + outer.Label() + `":"block", "` + inner.Label() + `":"block"`
	if !strings.Contains(b.String(), want) {
		t.Fatalf("the inner block's goroutine should carry both labels %s; profile:\n%s", want, b.String())
	}
}

// looker shares a look in its Before or After, or reads the one shared.
type looker struct {
	share string // the look shared in each phase: share+" before", share+" after"
	seen  *[]string
}

func (p looker) Before(r *probes.Run) error { return p.do(r, "before") }
func (p looker) After(r *probes.Run) error  { return p.do(r, "after") }
func (p looker) Report() probes.Report      { return nil }

func (p looker) do(r *probes.Run, phase string) error {
	if p.share != "" {
		r.ShareLook(p.share + " " + phase)
		return nil
	}
	look, ok := r.SharedLook()
	*p.seen = append(*p.seen, fmt.Sprintf("%s: %q %v", phase, look, ok))
	return nil
}

// A look one probe shares is offered to the probes after it in the same
// phase only: a look taken before the block says nothing of what runs
// after it.
func TestASharedLookIsOfferedWithinItsPhase(t *testing.T) {
	var seen []string
	// After run from the last probe to the first: the reader's After comes
	// before the sharer's.
	_, err := probes.Exec(func() {}, looker{share: "a", seen: &seen}, looker{seen: &seen})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`before: "a before" true`, `after: "" false`}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
	seen = nil
	_, err = probes.Exec(func() {}, looker{seen: &seen}, looker{share: "b", seen: &seen})
	if err != nil {
		t.Fatal(err)
	}
	want = []string{`before: "" false`, `after: "b after" true`}
	if !slices.Equal(seen, want) {
		t.Errorf("seen %q, want %q", seen, want)
	}
}
