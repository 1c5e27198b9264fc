package probes

// NextTimer is nextTimer, for the tests of the window's early end.
func NextTimer() (when, now int64, ok bool) { return nextTimer() }

// ScavengerTimer reports when the background scavenger's timer is due,
// when it is set.
func ScavengerTimer() (when int64, ok bool) {
	l, ok := timerLayout()
	if !ok {
		return 0, false
	}
	t := l.scavengerTimer()
	if t == nil {
		return 0, false
	}
	when = l.timerAt(t)
	return when, when != 0
}
