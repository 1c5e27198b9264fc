package fds

import (
	"sync"
	"sync/atomic"

	"github.com/residue-go/residue/internal/debuginfo"
)

// The runtime lists its finalizer goroutine among the process's goroutines
// (runtime.Stack, the goroutine profile) only while it runs a finalizer: it
// sets a bit of runtime.fingStatus around each call. The sentinel runs as a
// finalizer for as long as it holds, so a test's own look for goroutines
// left running (goleak.VerifyNone, the interestingGoroutines of net/http's
// and miekg/dns's tests) found it and waited for it to end, 100 ms at a
// time. As it starts holding, the sentinel clears that bit (unlist): the
// finalizer goroutine is then listed as it is without the probe, and the
// runtime sets the bit again for the next finalizer it runs. The address
// comes from the debug info, on the releases whose bits are known
// (fingReleases); elsewhere the sentinel is listed, and steps aside for such
// looks (stepAside).

// fingReleases are the Go releases whose runtime.fingStatus has the bits
// below:
//
//	const ( fingUninitialized uint32 = iota; fingCreated = 1 << (iota - 1); fingRunningFinalizer; fingWait; fingWake )
var fingReleases = droppedReleases

const (
	fingCreated          = 1 << 0
	fingRunningFinalizer = 1 << 1
	fingKnownBits        = 1<<4 - 1
)

// fingStatus is the address of runtime.fingStatus, nil when it cannot be
// found here (another Go release, no debug info).
var fingStatus = sync.OnceValue(func() *uint32 {
	if !debuginfo.Running(fingReleases...) {
		return nil
	}
	p, ok := debuginfo.Variable("runtime.fingStatus")
	if !ok {
		return nil
	}
	return (*uint32)(p)
})

// unlist takes the finalizer goroutine out of the goroutines the runtime
// lists while the finalizer that calls it runs; it reports whether it did.
// It changes nothing unless the status reads as that of a finalizer
// goroutine running a finalizer, with no bit it does not know.
func unlist() bool {
	p := fingStatus()
	if p == nil {
		return false
	}
	v := atomic.LoadUint32(p)
	if v&^fingKnownBits != 0 || v&(fingCreated|fingRunningFinalizer) != fingCreated|fingRunningFinalizer {
		return false
	}
	atomic.AndUint32(p, ^uint32(fingRunningFinalizer))
	return true
}
