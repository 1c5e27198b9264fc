//go:build unix

package memprof

import "syscall"

// mapMemory maps size bytes or more of zeroed memory, or returns nil.
func mapMemory(size int) (mem []byte, free func()) {
	page := syscall.Getpagesize()
	size = (size + page - 1) / page * page
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, nil
	}
	return mem, func() { _ = syscall.Munmap(mem) }
}
