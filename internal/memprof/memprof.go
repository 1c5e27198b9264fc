package memprof

import (
	"runtime"
	"sync"
)

var recording struct {
	sync.Mutex
	users int
	saved int
}

// RecordAllocations makes the runtime record every heap allocation with its
// stack (runtime.MemProfileRate = 1) until release is called. Calls may nest
// and overlap across goroutines: the rate the process had before the first
// call is restored when the last caller releases. release is idempotent.
func RecordAllocations() (release func()) {
	recording.Lock()
	if recording.users == 0 {
		recording.saved = runtime.MemProfileRate
		runtime.MemProfileRate = 1
	}
	recording.users++
	recording.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			recording.Lock()
			defer recording.Unlock()
			if recording.users--; recording.users == 0 {
				runtime.MemProfileRate = recording.saved
			}
		})
	}
}

// MemProfile returns every record of the memory profile, with in-use and
// cumulative figures current: the runtime publishes allocations to the
// profile only when a GC cycle ends, so it runs two first.
func MemProfile() []runtime.MemProfileRecord {
	runtime.GC()
	runtime.GC()
	return PublishedMemProfile()
}

// PublishedMemProfile returns the memory profile as the last GC cycles
// published it, without running one: cheap, but allocations since the last
// cycle are missing.
func PublishedMemProfile() []runtime.MemProfileRecord {
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs := make([]runtime.MemProfileRecord, n+64)
		var ok bool
		if n, ok = runtime.MemProfile(recs, true); ok {
			return recs[:n]
		}
	}
}
