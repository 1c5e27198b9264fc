package memprof

import (
	"runtime"
	"sync"
)

// Key identifies a recorded stack by a hash of its first 32 return
// addresses (runtime.MemProfileRecord.Stack0). Stacks deeper than 32 frames
// that differ only below the cut share a key, as they share Stack0. A map
// keyed by the stack itself would store each 256-byte key in an allocation
// of its own, which, while every allocation is recorded, costs a stack walk
// per entry.
type Key uint64

// KeyOf returns the key of a record's stack.
func KeyOf(stk *[32]uintptr) Key {
	h := uint64(14695981039346656037) // FNV-1a over the words
	for _, pc := range stk {
		h ^= uint64(pc)
		h *= 1099511628211
	}
	return Key(h)
}

// Objects is how many objects each recorded stack had allocated, by key:
// cumulative figures since the process started.
type Objects map[Key]int64

// ObjectsOf sums the records' allocated objects by stack.
func ObjectsOf(recs []runtime.MemProfileRecord) Objects {
	out := make(Objects, len(recs))
	for i := range recs {
		out[KeyOf(&recs[i].Stack0)] += recs[i].AllocObjects
	}
	return out
}

// published caches PublishedObjects: the published profile changes only
// when a GC cycle ends, so while the count of ended cycles stays the same
// every caller gets the same (read-only) sums.
var published struct {
	sync.Mutex
	cycles uint64
	objs   Objects
}

// PublishedObjects returns ObjectsOf the profile as the last GC cycles
// published it, without running one; allocations since the last cycle are
// missing. The result is shared: callers must not change it.
func PublishedObjects() Objects {
	// Read the count first: a cycle ending after it makes the next call
	// read the profile again; never the other way round.
	cycles := GCCycles()
	published.Lock()
	defer published.Unlock()
	if published.objs == nil || published.cycles != cycles {
		recs, release := PublishedMemProfile()
		published.objs, published.cycles = ObjectsOf(recs), cycles
		release()
	}
	return published.objs
}
