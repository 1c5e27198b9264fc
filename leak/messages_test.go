package leak_test

import (
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/leak"
	"github.com/residue-go/residue/probes"
)

// A worker started by newPool, called from two handlers the block calls on
// two lines: the report leads from pool.go's go statement back through the
// handlers to both of the block's lines.
func TestPoolWorkerLeadsToTheBlocksLines(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		handleOrders(stop)
		handleInvoices(stop)
	}, leak.Within(quick))
	if len(r.Goroutines) != 2 {
		t.Fatalf("want both workers:\n%s", r)
	}
	c := r.Goroutines[0].Origin
	if len(c) != 1 || !c[0].InBlock || len(c[0].From) != 2 {
		t.Fatalf("the origin should be newPool's go statement, reached from the block in two ways: %+v", c)
	}
	msg := r.String()
	for _, want := range []string{"pool_test.go:14", "handleOrders", "handleInvoices", "messages_test.go:17", "messages_test.go:18"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	golden(t, "pool_two_lines", msg)
}

// The worker's creator has exited before the block returns: the chain goes
// on from the exited goroutine's go statement to the block's line that
// started it.
func TestChainThroughAnExitedCreatorReachesTheBlock(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	r := find(t, func() {
		done := make(chan struct{})
		startVia(stop, done)
		<-done
	}, leak.Within(quick))
	if len(r.Goroutines) != 1 {
		t.Fatalf("want the worker:\n%s", r)
	}
	o := r.Goroutines[0].Origin
	if len(o) != 2 || !o[0].Exited || !o[1].InBlock || len(o[1].From) != 1 {
		t.Fatalf("origin should go through the exited creator to the block: %+v", o)
	}
	msg := r.String()
	for _, want := range []string{"pool_test.go:14", "(exited; it was the block's)", "pool_test.go:38", "messages_test.go:44"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	golden(t, "exited_creator", msg)
}

// Runs reuse marker frames: a run that leaks through handleInvoices with the
// marker an earlier run used to leak through handleOrders shows only its own
// way, not the earlier run's, whose records are still in the profile.
func TestWaysOfAnEarlierRunWithTheSameMarkerAreNotShown(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	run := func(block func()) (*probes.Run, *leak.Report) {
		p, err := leak.NewProbe(leak.Within(10 * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		r, err := probes.Exec(block, p)
		if err != nil {
			t.Fatal(err)
		}
		return r, p.Report().(*leak.Report)
	}
	first, _ := run(func() { handleOrders(stop) })
	for range probes.MaxExclusiveRuns * 2 {
		r, rep := run(func() { handleInvoices(stop) })
		if r.Marker() != first.Marker() {
			continue
		}
		o := rep.Goroutines[0].Origin
		if len(o) != 1 || len(o[0].From) != 1 || !strings.HasSuffix(o[0].From[0][1].Func, "handleInvoices") {
			t.Fatalf("want only this run's way, through handleInvoices:\n%s", rep)
		}
		return
	}
	t.Skip("no run got the first run's marker again")
}
