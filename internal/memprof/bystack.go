package memprof

import "runtime"

// Allocated is what the records of one stack allocated: objects and bytes.
type Allocated struct {
	Objects int64
	Bytes   int64
}

// ByStack is what each recorded stack allocated, keyed by the stack's first
// 32 return addresses (runtime.MemProfileRecord.Stack0).
type ByStack map[[32]uintptr]Allocated

// SumByStack sums the records of a memory profile by stack: the runtime
// keeps one record per stack and object size, and a stack deeper than 32
// frames shares its key with those that differ from it only below the cut.
// The figures are cumulative, since the process started.
func SumByStack(recs []runtime.MemProfileRecord) ByStack {
	out := make(ByStack, len(recs)/4)
	for i := range recs {
		r := &recs[i]
		a := out[r.Stack0]
		a.Objects += r.AllocObjects
		a.Bytes += r.AllocBytes
		out[r.Stack0] = a
	}
	return out
}

// Since returns what each stack allocated after before, a sum taken
// earlier, keeping only the stacks that allocated objects in between.
func (s ByStack) Since(before ByStack) ByStack {
	out := make(ByStack)
	for k, a := range s {
		b := before[k]
		if a.Objects -= b.Objects; a.Objects > 0 {
			a.Bytes -= b.Bytes
			out[k] = a
		}
	}
	return out
}
