// Package drop opens files in ways only some of residue's evidence ties to
// the code that asked for them.
package drop

import "os"

// Dropped opens a file and drops it without closing it: its finalizer
// closes it once a GC has found it unreachable, unless residue holds the
// finalizers back.
func Dropped(path string) {
	f, err := os.Open(path)
	if err != nil {
		panic(err)
	}
	_ = f
}

var (
	kept   []*os.File
	opened = make(chan struct{})
)

// Elsewhere opens a file on a goroutine that it starts without a closure
// (so no allocation records the go statement) and that has exited by the
// time Elsewhere returns: no creation stack ties the file to the caller.
func Elsewhere() {
	go openKept()
	<-opened
}

func openKept() {
	f, err := os.Open(os.Args[0])
	if err != nil {
		panic(err)
	}
	kept = append(kept, f)
	opened <- struct{}{}
}
