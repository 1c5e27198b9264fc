//go:build go1.26 && !go1.28

package memprof

import _ "unsafe" // go:linkname

// deepProfile is the runtime's reader of the memory profile with whole
// stacks, the one runtime/pprof uses (which marks it for linking): it
// fills p and returns the count of records, or only the count when p is
// too short. Its record type is internal to the runtime, and deepRecord
// (per release, deep_go1xx.go) has its layout; a release whose layout is
// not known here is read through the text form instead (deep_other.go).
//
//go:linkname deepProfile runtime.pprof_memProfileInternal
func deepProfile(p []deepRecord, inuseZero bool) (n int, ok bool)

// deepRecords reads every record of the memory profile with its whole
// stack. The stacks are the runtime's own (its buckets are never freed):
// read only.
func deepRecords() ([]StackRecord, bool) {
	var recs []deepRecord
	for {
		n, ok := deepProfile(recs, true)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]deepRecord, n+n/8+64)
	}
	out := make([]StackRecord, len(recs))
	for i := range recs {
		r := &recs[i]
		out[i] = StackRecord{InUseObjects: r.AllocObjects - r.FreeObjects, AllocObjects: r.AllocObjects, Stack: r.Stack}
	}
	return out, true
}

// deepObjects is ObjectsOf a read of the published profile, read through
// deepProfile into buf (kept for the next read by the caller): its records
// are a fifth of runtime.MemProfileRecord's size, whose 32-word stacks a
// read copies for every record, tens of thousands while allocations are
// recorded. The counts are all it keeps.
func deepObjects(buf *[]deepRecord) (Objects, bool) {
	recs := *buf
	for {
		n, ok := deepProfile(recs[:cap(recs)], true)
		if ok {
			recs = recs[:n]
			break
		}
		recs = make([]deepRecord, n+n/8+64)
	}
	out := make(Objects, len(recs))
	for i := range recs {
		out[len(recs)-1-i] = recs[i].AllocObjects
	}
	*buf = recs[:0]
	return out, true
}
