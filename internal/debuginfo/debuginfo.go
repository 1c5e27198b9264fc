// Package debuginfo finds package-level variables of the running binary by
// name, through the DWARF debug info that the globals package reads once per
// process. A probe that needs a variable of the runtime that no API exposes
// asks here (fds reads the finalizer queue, runtime.allfin); the answer is
// no when the binary carries no debug info (a plain go test strips it) or
// when the globals package is not linked in.
package debuginfo

import (
	"sync/atomic"
	"unsafe"
)

// Lookup is what Provide installs.
type Lookup func(name string) (unsafe.Pointer, bool)

var provider atomic.Pointer[Lookup]

// Provide installs the lookup Variable uses. The globals package calls it
// from its init.
func Provide(l Lookup) { provider.Store(&l) }

// Variable returns the address in this process of the package-level variable
// with the fully qualified name, such as "runtime.allfin".
func Variable(name string) (unsafe.Pointer, bool) {
	l := provider.Load()
	if l == nil {
		return nil, false
	}
	return (*l)(name)
}
