//go:build unix

package globals_test

import (
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// unmapped points at memory that cannot be read, as a value torn by a
// concurrent write, or one the debug info misplaces, may.
var unmapped []*int

// A variable that cannot be read without a fault is listed as not judged,
// and the check goes on: before, the fault ended the test binary.
func TestAVariableOverUnmappedMemoryIsNotJudgedAndEndsNothing(t *testing.T) {
	// A page no access is allowed to: reading it faults, and the address
	// is not mapped again while the test runs.
	page, err := syscall.Mmap(-1, 0, syscall.Getpagesize(), syscall.PROT_NONE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Skip(err)
	}
	unmapped = unsafe.Slice((**int)(unsafe.Pointer(unsafe.SliceData(page))), 4)
	defer func() {
		unmapped = nil
		syscall.Munmap(page)
	}()
	r := find(t, func() { counter++ })
	if got := lines(r); !strings.Contains(got, "counter") {
		t.Errorf("the change the block made is not reported:\n%s", r)
	}
	if msg := r.String(); !strings.Contains(msg, "Not judged (could not be read consistently):\n    github.com/residue-go/residue/globals_test.unmapped (a read of it faulted") {
		t.Errorf("the message does not say what was not judged and why:\n%s", msg)
	}
	if len(r.NotJudged) != 1 || !strings.HasPrefix(r.NotJudged[0], "github.com/residue-go/residue/globals_test.unmapped") || !strings.Contains(r.NotJudged[0], "a read of it faulted (torn by a concurrent write, or over memory that is not mapped): invalid memory address") {
		t.Errorf("not judged %q, want the unmapped variable's:\n%s", r.NotJudged, r)
	}
}
