package memprof

import "unsafe"

// The buffers of records read from the memory profile live in memory mapped
// apart from the Go heap. They hold tens of thousands of records, kept from
// read to read, whose only pointers lead to the runtime's profile buckets,
// which are not in the heap either: in the heap, their pointer words were
// scanned by every GC cycle, about a tenth of the cycles' work over a
// module's checks (miekg/dns).

// offHeap is a buffer of T's outside the Go heap. T's pointers must lead
// only outside the heap too: the GC does not see them.
type offHeap[T any] struct {
	s    []T
	free func()
}

// grow makes the buffer hold at least n T's; what it held is lost.
func (b *offHeap[T]) grow(n int) {
	b.release()
	var size T
	mem, free := mapMemory(n * int(unsafe.Sizeof(size)))
	if mem == nil {
		b.s = make([]T, n)
		return
	}
	b.s = unsafe.Slice((*T)(unsafe.Pointer(unsafe.SliceData(mem))), len(mem)/int(unsafe.Sizeof(size)))
	b.free = free
}

// release gives the buffer's memory back.
func (b *offHeap[T]) release() {
	if b.free != nil {
		b.free()
	}
	b.s, b.free = nil, nil
}
