package probes

import (
	"runtime"
	"time"
)

// Settle polls check, from a probe's After, until it returns true or the
// window has passed. The window starts when Finish began, not when this
// probe's After did: the windows of the probes of one run overlap, so a
// block that leaves a goroutine and a socket waits one window, not two. The
// first call comes at once, so a block that left nothing behind costs no
// wait; later calls back off from 100µs, doubling up to 50ms. last is true on
// the call made when the window has passed; Settle returns after it whatever
// it returns. The last call comes early when nothing in the process can run
// before the window ends (still.go): Settle then returns true.
func (r *Run) Settle(within time.Duration, check func(attempt int, last bool) bool) (stilled bool) {
	r.lookBy = time.Time{}
	deadline := r.finishing.Add(within)
	pause := 100 * time.Microsecond
	for attempt := 0; ; attempt++ {
		last := !time.Now().Before(deadline)
		if check(attempt, last) || last {
			return false
		}
		if attempt >= stillFrom && r.still(deadline) {
			check(attempt+1, true)
			return true
		}
		if attempt == 0 {
			runtime.Gosched() // let goroutines that are about to exit do so
			continue
		}
		sleep := min(pause, time.Until(deadline))
		if !r.lookBy.IsZero() {
			sleep = max(0, min(sleep, time.Until(r.lookBy)))
			r.lookBy = time.Time{}
		}
		time.Sleep(sleep)
		if pause *= 2; pause > 50*time.Millisecond {
			pause = 50 * time.Millisecond
		}
	}
}

// LookBy asks, from a check of Settle's, that the next call come by t at
// the latest: a probe that waits for a moment of its own within the window
// (the descriptor probe's quiet period) is not left asleep past it by
// Settle's backing off. Only on the goroutine calling Settle.
func (r *Run) LookBy(t time.Time) { r.lookBy = t }
