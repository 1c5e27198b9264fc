//go:build !go1.26 || go1.28

package stack

import "unsafe"

// The runtime's goroutine records have no known layout in this release:
// the profile is read through its text form (see Groups).
const profileKnown = false

func profileRecords() ([][]uintptr, []unsafe.Pointer) { return nil, nil }
