//go:build go1.26 && !go1.28

package stack

import "unsafe" // and go:linkname

// goroutineProfile is the runtime's reader of the goroutine profile with
// each goroutine's label set, the one runtime/pprof uses (which marks it
// for linking): it fills p and labels (of the same length) and returns
// the count of goroutines, or only the count when p is too short. Its
// record type is internal to the runtime; stackRecord has its layout in
// these releases.
//
//go:linkname goroutineProfile runtime.pprof_goroutineProfileWithLabels
func goroutineProfile(p []stackRecord, labels []unsafe.Pointer) (n int, ok bool)

// stackRecord is internal/profilerecord.StackRecord of Go 1.26 and 1.27.
type stackRecord struct {
	Stack []uintptr
}

const profileKnown = true

// profileRecords returns every goroutine's stack and label set (a pointer
// labelPairs reads, nil when it has none), as the runtime records them.
func profileRecords() (stacks [][]uintptr, labels []unsafe.Pointer) {
	n, _ := goroutineProfile(nil, nil)
	for {
		p := make([]stackRecord, n+10)
		labels = make([]unsafe.Pointer, n+10)
		var ok bool
		if n, ok = goroutineProfile(p, labels); ok {
			stacks = make([][]uintptr, n)
			for i := range n {
				stacks[i] = p[i].Stack
			}
			return stacks, labels[:n]
		}
	}
}
