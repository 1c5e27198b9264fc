package fds

import (
	"testing"
	"unsafe"
)

// A queue address that is not what the debug info promised (the binary on
// disk rebuilt while it runs, say) makes a read fault: the search ends
// with no proof, and the process goes on.
func TestAQueueThatCannotBeReadProvesNothing(t *testing.T) {
	bogus := ^uintptr(0) &^ 0xfff // the last page of the address space: never the process's
	saved := queueHead
	defer func() { queueHead = saved }()
	queueHead = func() unsafe.Pointer { return unsafe.Pointer(&bogus) }
	if fds, ok := droppedDescriptors(); ok || fds != nil {
		t.Fatalf("droppedDescriptors() = %v, %v", fds, ok)
	}
}
