package fds

import (
	"runtime"
	"sync"
	"time"
)

// finalizerBlocker is a throwaway object whose finalizer holds the runtime's
// finalizer goroutine. Finalizers run one at a time, so while it blocks no
// other finalizer runs, and an os.File or net.Conn the block dropped without
// closing stays open however many GCs run: the verdict does not depend on
// when a GC happens. It has a pointer field so that it is never a tiny
// allocation, whose finalizer could be delayed indefinitely.
type finalizerBlocker struct{ _ *int }

var finalizers struct {
	sync.Mutex
	users   int
	release chan struct{}
	held    bool
}

// holdFinalizersFor is how long holdFinalizers waits for the finalizer
// goroutine to reach its blocker; another finalizer that blocks can keep it
// from doing so.
const holdFinalizersFor = 2 * time.Second

// holdFinalizers keeps the runtime from running finalizers until release is
// called. Calls nest and overlap across goroutines: the queue is released
// when the last caller releases. held is false when the finalizer goroutine
// could not be reached in time (another finalizer is blocking it, which holds
// the queue just as well). release is idempotent.
func holdFinalizers() (release func(), held bool) {
	finalizers.Lock()
	if finalizers.users == 0 {
		rel := make(chan struct{})
		started := make(chan struct{})
		b := &finalizerBlocker{}
		runtime.SetFinalizer(b, func(*finalizerBlocker) {
			close(started)
			<-rel
		})
		b = nil
		runtime.KeepAlive(b)
		finalizers.release = rel
		finalizers.held = false
		deadline := time.Now().Add(holdFinalizersFor)
	wait:
		for time.Now().Before(deadline) {
			runtime.GC()
			select {
			case <-started:
				finalizers.held = true
				break wait
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	finalizers.users++
	held = finalizers.held
	finalizers.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			finalizers.Lock()
			defer finalizers.Unlock()
			if finalizers.users--; finalizers.users == 0 {
				close(finalizers.release)
			}
		})
	}, held
}
