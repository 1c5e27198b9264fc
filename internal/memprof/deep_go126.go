//go:build go1.26 && !go1.27

package memprof

// deepRecord is Go 1.26's internal/profilerecord.MemProfileRecord.
type deepRecord struct {
	AllocBytes, FreeBytes     int64
	AllocObjects, FreeObjects int64
	Stack                     []uintptr
}
