package memprof_test

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/memprof"
)

// deepSink keeps what deep allocates in use.
var deepSink []*[64]byte

//go:noinline
func deep(n int) {
	if n == 0 {
		deepSink = append(deepSink, new([64]byte))
		return
	}
	deep(n - 1)
}

// The records read straight from the runtime are those of the heap
// profile's text form, record for record, with stacks deeper than the 32
// frames of runtime.MemProfile: the layout of the runtime's record type
// is right for the release in use (a wrong one gives other counts, or
// stacks that are not addresses).
func TestFullStackProfileReadsTheRuntimesRecords(t *testing.T) {
	stop := memprof.RecordAllocations()
	for range 3 {
		deep(50)
	}
	stop()
	_, release := memprof.MemProfile() // publishes them
	release()
	// No cycle may end between the two reads: the published counts
	// change only then.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	full := memprof.FullStackProfile()
	if !memprof.ReadsDeep() {
		if v := runtime.Version(); strings.HasPrefix(v, "go1.26") || strings.HasPrefix(v, "go1.27") {
			t.Fatalf("the records of %s are not read directly", v)
		}
		t.Skipf("the records of %s are read through the text form only", runtime.Version())
	}
	text := memprof.TextStackProfile()
	// Records of one stack and different object sizes are apart: the
	// records are compared as sorted lists.
	published := func(recs []memprof.StackRecord) []string {
		var out []string
		for _, r := range recs {
			if r.AllocObjects > 0 {
				out = append(out, fmt.Sprint(r.AllocObjects, r.InUseObjects, r.Stack))
			}
		}
		slices.Sort(out)
		return out
	}
	a, b := published(full), published(text)
	if len(a) == 0 {
		t.Fatal("no published record was read directly")
	}
	if i := slices.IndexFunc(a, func(r string) bool { return !slices.Contains(b, r) }); i >= 0 || len(a) != len(b) {
		first := "none"
		if i >= 0 {
			first = a[i]
		}
		t.Fatalf("the records read directly (%d) are not those of the heap profile's text form (%d): the runtime's record layout "+
			"may not be deep_go1xx.go's for %s; the first record read directly that the text form does not have (objects allocated, "+
			"in use, stack): %s", len(a), len(b), runtime.Version(), first)
	}
	found := false
	for _, r := range full {
		frames := memprof.Symbolize(r.Stack)
		n, arrays := 0, true
		for _, f := range frames {
			if strings.HasSuffix(f.Func, "memprof_test.deep") {
				n++
			}
			// The arrays' record, not the slice's growth.
			arrays = arrays && f.Func != "runtime.growslice"
		}
		// -count=N runs add 3 each time, all kept in use.
		if n == 51 && arrays && r.InUseObjects >= 3 && r.InUseObjects == r.AllocObjects {
			found = true
		}
	}
	if !found {
		t.Fatal("no record has the 3 arrays allocated under 51 frames of deep")
	}
}

var keepA, keepB [16]*[48]byte

// keepNew fills the first n slots of keep with new arrays; allocateA and
// allocateB call it from two places, two stacks of the profile.
//
//go:noinline
func keepNew(keep *[16]*[48]byte, n int) {
	for i := range n {
		keep[i] = new([48]byte)
	}
}

//go:noinline
func allocateA(n int) { keepNew(&keepA, n) }

//go:noinline
func allocateB(n int) { keepNew(&keepB, n) }

// gainedIn sums, over the records whose stack runs through fn, what they
// allocated since base.
func gainedIn(recs []runtime.MemProfileRecord, base memprof.Objects, fn string) (gained, records int64) {
	for i := range recs {
		for _, f := range memprof.Symbolize(recs[i].Stack()) {
			if strings.HasSuffix(f.Func, fn) {
				gained += recs[i].AllocObjects - base.Of(len(recs), i)
				records++
				break
			}
		}
	}
	return gained, records
}

// A later read of the profile ends with the buckets of an earlier one, in
// the same order: a baseline finds each record's figure by its bucket's
// age, and a bucket made since has none.
func TestABaselineFindsEachRecordByItsBucketsAge(t *testing.T) {
	stop := memprof.RecordAllocations()
	allocateA(5)
	stop()
	recs, release := memprof.MemProfile()
	first := slices.Clone(recs)
	release()
	base := memprof.ObjectsOf(first)
	stop = memprof.RecordAllocations()
	allocateA(3)
	allocateB(4)
	stop()
	recs, release = memprof.MemProfile()
	defer release()
	if len(recs) < len(first) {
		t.Fatalf("the later read has %d records, the earlier %d", len(recs), len(first))
	}
	for i := range recs {
		if age := len(recs) - 1 - i; age < len(first) && recs[i].Stack0 != first[len(first)-1-age].Stack0 {
			t.Fatalf("record %d of %d of a later read of the memory profile has another stack than the earlier read's record "+
				"of its age (%d from the list's end): the runtime no longer keeps its buckets in the order memprof.Objects relies on",
				i, len(recs), age)
		}
	}
	if g, n := gainedIn(recs, base, "memprof_test.allocateA"); g != 3 || n == 0 {
		t.Errorf("allocateA gained %d objects since the baseline (in %d records), want 3", g, n)
	}
	if g, n := gainedIn(recs, base, "memprof_test.allocateB"); g != 4 || n == 0 {
		t.Errorf("allocateB gained %d objects since the baseline (in %d records), want 4", g, n)
	}
}

// The counts PublishedObjects reads straight from the runtime are those of
// runtime.MemProfile, bucket for bucket, oldest first.
func TestPublishedCountsReadDirectlyAreMemProfiles(t *testing.T) {
	stop := memprof.RecordAllocations()
	allocateA(6)
	allocateB(2)
	stop()
	_, release := memprof.MemProfile() // publishes them
	release()
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	runtime.GC()
	direct := memprof.DirectObjects()
	if !memprof.ReadsDeep() {
		if v := runtime.Version(); strings.HasPrefix(v, "go1.26") || strings.HasPrefix(v, "go1.27") {
			t.Fatalf("the counts of %s are not read directly", v)
		}
		t.Skipf("the records of %s are read through runtime.MemProfile only", runtime.Version())
	}
	recs, release := memprof.PublishedMemProfile()
	defer release()
	want := memprof.ObjectsOf(recs)
	if len(direct) != len(want) {
		t.Fatalf("read directly, the profile has %d buckets; runtime.MemProfile has %d", len(direct), len(want))
	}
	for i := range want {
		if direct[i] != want[i] {
			t.Fatalf("bucket %d of %d (oldest first) allocated %d objects read directly, %d by runtime.MemProfile: "+
				"the runtime's record layout may not be deep_go1xx.go's for %s", i, len(want), direct[i], want[i], runtime.Version())
		}
	}
	if g, n := gainedIn(recs, nil, "memprof_test.allocateB"); g < 2 || n == 0 {
		t.Fatalf("the profile has %d objects of allocateB (in %d records), want 2 or more", g, n)
	}
}
