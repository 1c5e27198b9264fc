// Package cleanupclose has a parallel test that closes the file it opened
// in a t.Cleanup, beside one that opens a file while the first runs and
// keeps it open: the first leaves nothing, though its closed file is still
// held by the cleanup's closure, which testing keeps after calling it.
package cleanupclose

import (
	"os"
	"testing"
	"time"
)

var (
	opened = make(chan struct{})
	kept   = make(chan struct{})
	keep   *os.File
)

func wait(t *testing.T, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatal("the other test did not run beside this one")
	}
}

func TestClosesInCleanup(t *testing.T) {
	t.Parallel()
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	close(opened)
	wait(t, kept)
}

func TestKeepsOne(t *testing.T) {
	t.Parallel()
	wait(t, opened)
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	keep = f
	close(kept)
}
