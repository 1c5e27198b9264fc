package globals

// What the package's external tests and benchmarks call that users need
// not: snapshots taken and compared by hand, the debug-info index of any
// binary, the default scope.
var (
	Take         = takeSnapshot
	Compare      = compare
	OpenIndex    = openIndex
	DefaultScope = defaultScope
)

// WaitedInVain reports whether a first snapshot gave up waiting for the
// goroutine with that ID as a straggler, and no longer waits for it.
func WaitedInVain(id uint64) bool {
	busy.Lock()
	defer busy.Unlock()
	return busy.ids[id]
}

// PollFirst sets whether a first snapshot lets the scheduler poll the
// network before it looks for stragglers, and returns the setting before.
func PollFirst(on bool) bool { return !skipPoll.Swap(!on) }
