//go:build go1.27 && !go1.28

package memprof

// deepRecord is Go 1.27's internal/profilerecord.MemProfileRecord.
type deepRecord struct {
	ObjectSize                int64
	AllocObjects, FreeObjects int64
	Stack                     []uintptr
}
