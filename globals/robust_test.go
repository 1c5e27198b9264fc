package globals_test

import (
	"container/list"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/residue-go/residue/globals"
)

type longKey struct{ Name string }

var (
	chain      = list.New()
	longKeyed  = map[longKey]int{}
	longString = map[string]int{}
)

// A long linked list reordered: every element is at a new place, so every
// element differs. Time and memory must grow linearly, and the message
// stays short.
func TestDeepChainsAreDiffedInLinearTime(t *testing.T) {
	var allocs []uint64
	for _, n := range []int{20_000, 100_000} {
		chain.Init()
		for i := 0; i < n; i++ {
			chain.PushBack(i)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		r := find(t, func() { chain.MoveToFront(chain.Back()) })
		took := time.Since(start)
		runtime.ReadMemStats(&after)
		alloc := after.TotalAlloc - before.TotalAlloc
		t.Logf("%d elements: %v, %d MB allocated", n, took, alloc>>20)
		allocs = append(allocs, alloc)
		if took > time.Minute || alloc > 2<<30 {
			t.Errorf("%d elements took %v and %d MB", n, took, alloc>>20)
		}
		s := r.String()
		if !strings.Contains(s, thisPackage+".chain") || len(s) > 8000 {
			t.Errorf("%d elements: a report of %d bytes:\n%.2000s", n, len(s), s)
		}
		if !strings.Contains(s, "more changes to "+thisPackage+".chain") {
			t.Errorf("the changes beyond the cap are not counted:\n%s", s)
		}
	}
	chain.Init()
	// Five times the elements: five times the memory when linear, 25 when
	// quadratic.
	if allocs[1] > 8*allocs[0] {
		t.Errorf("memory grew from %d to %d MB for five times the elements", allocs[0]>>20, allocs[1]>>20)
	}
}

// Two keys that agree on their first 80 bytes are two keys.
func TestLongMapKeysAreIdentifiedExactly(t *testing.T) {
	prefix := strings.Repeat("k", 100)
	a, b := longKey{prefix + "a"}, longKey{prefix + "b"}
	longKeyed[a], longKeyed[b] = 1, 2
	defer clear(longKeyed)
	r := find(t, func() { longKeyed[a], longKeyed[b] = 2, 1 })
	if len(r.Changes) != 2 {
		t.Fatalf("a swap of two values was reported as %d changes:\n%s", len(r.Changes), r)
	}
	for _, c := range r.Changes {
		if c.Kind != "modified" {
			t.Errorf("a changed value was reported as %v:\n%s", c, r)
		}
	}
	if r.Changes[0].Path == r.Changes[1].Path {
		t.Errorf("two keys are shown alike:\n%s", r)
	}
	r = find(t, func() { longKeyed[a] = 5 })
	if got := lines(r); len(r.Changes) != 1 || !strings.Contains(got, ": 2 → 5") {
		t.Errorf("a changed value under a long key:\n%s", got)
	}
}

// Ignoring names a key in full; a key sharing its first 80 bytes, or one
// holding "." and "]", is another key.
func TestIgnoringMatchesKeysExactly(t *testing.T) {
	prefix := strings.Repeat("x", 100)
	defer clear(longString)
	r := find(t, func() {
		longString[prefix+"1"] = 1
		longString[prefix+"2"] = 2
		longString[`a"].b`] = 3
		longString["a"] = 4
	}, globals.Ignoring(thisPackage+`.longString["`+prefix+`1"]`, thisPackage+`.longString["a\"].b"]`))
	if len(r.Changes) != 2 || !strings.Contains(lines(r), `…xxxxxxxxxxxxxxxxxxxxxx2"`) || !strings.Contains(lines(r), `added "a": 4`) {
		t.Errorf("want the second long key and \"a\" only:\n%s", r)
	}
}

// A map its owner writes under its own mutex, from a goroutine started
// before the check, is read without aborting the process ("concurrent map
// iteration and map write"): 20 nested checks and the outer one, in a fresh
// process.
func TestMapWrittenByAnotherGoroutineDoesNotAbort(t *testing.T) {
	res := runFresh(t, "-w=0", "map written by another goroutine")
	if strings.Contains(res.report, "fatal error") || !strings.HasPrefix(res.report, "The block changed") {
		t.Fatalf("the process did not survive:\n%.3000s", res.report)
	}
	if !strings.Contains(res.report, "main.guarded") {
		t.Errorf("the written map is neither reported nor listed as not judged:\n%s", res.report)
	}
	t.Logf("\n%s", res.report)
}

type blob struct{ b [64]byte }

// weakCache is a canonicalisation cache: an entry goes when the garbage
// collector frees its value.
var (
	weakMu    sync.Mutex
	weakCache = map[string]weak.Pointer[blob]{}
)

func canonical(k string) *blob {
	weakMu.Lock()
	defer weakMu.Unlock()
	if p := weakCache[k].Value(); p != nil {
		return p
	}
	p := new(blob)
	weakCache[k] = weak.Make(p)
	runtime.AddCleanup(p, func(k string) {
		weakMu.Lock()
		delete(weakCache, k)
		weakMu.Unlock()
	}, k)
	return p
}

// held keeps the cached value alive until the block lets it go.
var held *blob

// What the garbage collector changes is never reported: an entry of a
// cache held through a weak pointer vanishes at whichever GC frees it.
func TestGarbageCollectedCacheEntriesAreNotReported(t *testing.T) {
	held = canonical("a")
	r := find(t, func() {
		held = nil
		for i := 0; i < 20; i++ {
			runtime.GC()
			weakMu.Lock()
			n := len(weakCache)
			weakMu.Unlock()
			if n == 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
		t.Error("the cache entry was never freed")
	}, globals.Ignoring(thisPackage+".held"))
	if len(r.Changes) > 0 {
		t.Errorf("a garbage-collected cache entry was reported:\n%s", r)
	}
}
