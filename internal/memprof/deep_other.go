//go:build !go1.26 || go1.28

package memprof

// deepRecord has no known layout in this release: its records are read
// through runtime.MemProfile and the heap profile's text form (see
// deep.go).
type deepRecord struct{}

var readsDeep = false

func readDeep(*offHeap[deepRecord]) []deepRecord { return nil }

func (*deepRecord) record() StackRecord { return StackRecord{} }
