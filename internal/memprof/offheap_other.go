//go:build !unix

package memprof

// mapMemory maps no memory here: the buffers are the heap's.
func mapMemory(int) ([]byte, func()) { return nil, nil }
