package memprof_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/memprof"
)

func TestRecordAllocationsNestsAndRestores(t *testing.T) {
	defer func(old int) { runtime.MemProfileRate = old }(runtime.MemProfileRate)
	runtime.MemProfileRate = 4096
	r1 := memprof.RecordAllocations()
	r2 := memprof.RecordAllocations()
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate = %d while recording", runtime.MemProfileRate)
	}
	r1()
	r1() // idempotent
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate restored while another caller still records")
	}
	r2()
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate = %d after the last release, want 4096", runtime.MemProfileRate)
	}
}

var sink [][]byte

//go:noinline
func allocate(n int) {
	for range n {
		sink = append(sink, make([]byte, 48))
	}
}

func TestSumByStackSinceCountsWhatAStackAllocatedInBetween(t *testing.T) {
	release := memprof.RecordAllocations()
	defer release()
	recs, done := memprof.MemProfile()
	before := memprof.SumByStack(recs)
	done()
	sink = make([][]byte, 0, 100)
	allocate(7)
	recs, done = memprof.MemProfile()
	after := memprof.SumByStack(recs)
	done()
	var found memprof.Allocated
	for k, a := range after.Since(before) {
		if a.Objects <= 0 {
			t.Errorf("a stack that allocated nothing is kept: %v", a)
		}
		for _, f := range memprof.Symbolize(k[:]) {
			if strings.HasSuffix(f.Func, "memprof_test.allocate") {
				found.Objects += a.Objects
				found.Bytes += a.Bytes
			}
		}
	}
	if found != (memprof.Allocated{Objects: 7, Bytes: 7 * 48}) {
		t.Fatalf("allocate(7) allocated %+v, want 7 objects of 48 B", found)
	}
	if n := len(after.Since(after)); n != 0 {
		t.Fatalf("%d stacks allocated since themselves", n)
	}
}

// budget gives the test a stack budget of 10,000 allocations and a
// process rate of 4096 bytes, put back as it ends.
func budget(t *testing.T) {
	old, oldRate := memprof.StackBudget.Load(), runtime.MemProfileRate
	t.Cleanup(func() { memprof.StackBudget.Store(old); runtime.MemProfileRate = oldRate })
	memprof.StackBudget.Store(10000)
	runtime.MemProfileRate = 4096
}

// A recording for stacks stops once its budget of allocations is spent,
// and the rate the process had is back; it says so to its caller.
func TestRecordStacksStopsAtItsBudget(t *testing.T) {
	budget(t)
	rec := memprof.RecordStacks()
	defer rec.Release()
	memprof.Churn(100_000)
	if !rec.Stopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d after the budget", rec.Stopped(), runtime.MemProfileRate)
	}
}

// While a caller counts every allocation, the budget does not stop the
// recording; one that comes after it stopped starts it again.
func TestCountingRecordingsAreNotStopped(t *testing.T) {
	budget(t)
	rec := memprof.RecordStacks()
	defer rec.Release()
	stopped := rec.Stopped
	release := memprof.RecordAllocations()
	memprof.Churn(20_000)
	if stopped() || runtime.MemProfileRate != 1 {
		t.Fatalf("stopped %v, rate %d while counting", stopped(), runtime.MemProfileRate)
	}
	release()
	memprof.Churn(20_000)
	if !stopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d once counting ended", stopped(), runtime.MemProfileRate)
	}
	release = memprof.RecordAllocations()
	defer release()
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate %d for a counting recording after a stop", runtime.MemProfileRate)
	}
}

// A caller that begins after the others spent their budgets gets a budget
// of its own: the recording starts again, and it was not stopped for it.
func TestANewCallerRecordsAgain(t *testing.T) {
	budget(t)
	first := memprof.RecordStacks()
	defer first.Release()
	firstStopped := first.Stopped
	memprof.Churn(100_000)
	if !firstStopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d after the budget", firstStopped(), runtime.MemProfileRate)
	}
	second := memprof.RecordStacks()
	defer second.Release()
	secondStopped := second.Stopped
	runtime.GC()
	if runtime.MemProfileRate != 1 || secondStopped() || !firstStopped() {
		t.Fatalf("rate %d, second stopped %v, first stopped %v", runtime.MemProfileRate, secondStopped(), firstStopped())
	}
}

// A caller renewed after others' allocations spent its budget (a test
// resumed from t.Parallel) records again, with a budget counted from the
// renewal, and is no longer told the recording stopped.
func TestARenewedCallerRecordsAgain(t *testing.T) {
	budget(t)
	rec := memprof.RecordStacks()
	defer rec.Release()
	release, stopped, renew := rec.Release, rec.Stopped, rec.Renew
	memprof.Churn(100_000)
	if !stopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d after the budget", stopped(), runtime.MemProfileRate)
	}
	renew()
	if stopped() || runtime.MemProfileRate != 1 {
		t.Fatalf("stopped %v, rate %d after renew", stopped(), runtime.MemProfileRate)
	}
	memprof.Churn(100_000)
	if !stopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d after the renewed budget", stopped(), runtime.MemProfileRate)
	}
	release()
	renew() // after release: nothing
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate %d after a renew that came after release", runtime.MemProfileRate)
	}
}

// A paused caller lets the recording stop: the rate the process had is back
// while it is the only caller, and stays 1 while another records. Renewed,
// it records again; released while paused, it is not taken out twice.
func TestAPausedCallerLetsTheRecordingStop(t *testing.T) {
	budget(t)
	rec := memprof.RecordStacks()
	defer rec.Release()
	rec.Pause()
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate %d while the only caller is paused", runtime.MemProfileRate)
	}
	rec.Pause() // twice: nothing more
	other := memprof.RecordStacks()
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate %d for a caller that began while another was paused", runtime.MemProfileRate)
	}
	other.Release()
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate %d once the caller beside the paused one released", runtime.MemProfileRate)
	}
	rec.Renew()
	if runtime.MemProfileRate != 1 || rec.Stopped() {
		t.Fatalf("rate %d, stopped %v once renewed", runtime.MemProfileRate, rec.Stopped())
	}
	memprof.Churn(100_000)
	if !rec.Stopped() || runtime.MemProfileRate != 4096 {
		t.Fatalf("stopped %v, rate %d after the renewed budget", rec.Stopped(), runtime.MemProfileRate)
	}

	// Released while paused, beside a caller that goes on recording.
	paused, counting := memprof.RecordStacks(), memprof.RecordAllocations()
	paused.Pause()
	paused.Release()
	paused.Release()
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate %d while a caller counts, after a paused one released", runtime.MemProfileRate)
	}
	counting()
	rec.Release()
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate %d once every caller released", runtime.MemProfileRate)
	}
}

// A read of the profile reuses the records of the last one released: a
// profile recorded at rate 1 has tens of thousands of records, and a fresh
// slice of them for every read started GC cycles of its own.
func TestAReadOfTheProfileReusesTheLastOnesRecords(t *testing.T) {
	stop := memprof.RecordAllocations()
	allocate(10)
	stop()
	first, done := memprof.PublishedMemProfile()
	if len(first) == 0 {
		t.Fatal("the profile has no records")
	}
	// While the first read holds its records, another gets its own.
	other, otherDone := memprof.PublishedMemProfile()
	if &other[0] == &first[0] {
		t.Fatal("a read made while another held the records got the same ones")
	}
	otherDone()
	done()
	done() // once only
	again, done := memprof.PublishedMemProfile()
	defer done()
	if &again[0] != &first[0] {
		t.Errorf("a read after the last was released got new records (%d of them) rather than the same slice", len(again))
	}
}
