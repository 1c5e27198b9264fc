package probes

import "unsafe"

// NextTimer is nextTimer, for the tests of the window's early end.
func NextTimer() (when, now int64, ok bool) { return nextTimer() }

// ScavengerFirst reports when the background scavenger's timer is due, if
// it is the earliest of some P's heap of timers.
//
//go:nocheckptr
func ScavengerFirst() (when int64, ok bool) {
	l, ok := timerLayout()
	if !ok || l.scavenger == nil {
		return 0, false
	}
	slice := (*struct {
		ptr unsafe.Pointer
		n   int
	})(l.allp)
	for i := range slice.n {
		p := *(*unsafe.Pointer)(unsafe.Add(slice.ptr, uintptr(i)*unsafe.Sizeof(uintptr(0))))
		first := *(*int64)(unsafe.Add(p, l.heap))
		if _, ok := l.scavengerFirst(p, first); ok && first != 0 {
			return first, true
		}
	}
	return 0, false
}
