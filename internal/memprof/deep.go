//go:build go1.26 && !go1.28

package memprof

import _ "unsafe" // go:linkname

// deepProfile is the runtime's reader of the memory profile with whole
// stacks, the one runtime/pprof uses (which marks it for linking): it
// fills p and returns the count of records, or only the count when p is
// too short. Its record type is internal to the runtime, and deepRecord
// (per release, deep_go1xx.go) has its layout; a release whose layout is
// not known here is read through runtime.MemProfile and the heap
// profile's text form instead (deep_other.go).
//
//go:linkname deepProfile runtime.pprof_memProfileInternal
func deepProfile(p []deepRecord, inuseZero bool) (n int, ok bool)

// readsDeep says whether this release's records are read directly; only
// ReadCutStacks turns it off, for tests of the other way.
var readsDeep = true

// readDeep reads every record of the memory profile, as the last GC cycles
// published it, into buf, grown when it is too short. The stacks are the
// runtime's own (its buckets, never freed, are not in the heap): read
// only. A record is a fifth of runtime.MemProfileRecord's size, whose
// 32-word stack a read copies for every record: tens of thousands while
// allocations are recorded.
func readDeep(buf *offHeap[deepRecord]) []deepRecord {
	for {
		n, ok := deepProfile(buf.s, true)
		if ok {
			return buf.s[:n]
		}
		buf.grow(n + n/8 + 64)
	}
}

// record returns r as a StackRecord.
func (r *deepRecord) record() StackRecord {
	return StackRecord{InUseObjects: r.AllocObjects - r.FreeObjects, AllocObjects: r.AllocObjects, Stack: r.Stack}
}
