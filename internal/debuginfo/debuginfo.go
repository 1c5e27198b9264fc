// Package debuginfo finds package-level variables of the running binary by
// name, and the layout of their types, through the DWARF debug info that the
// globals package reads once per process. A probe that needs a variable of
// the runtime that no API exposes asks here (fds reads the finalizer queue,
// runtime.allfin; probes reads the timers of runtime.allp); the answer is no
// when the binary carries no debug info (a plain go test strips it) or when
// the globals package is not linked in.
package debuginfo

import (
	"runtime"
	"strings"
	"sync/atomic"
	"unsafe"
)

// Provider answers from the debug info. The globals package installs one
// from its init.
type Provider interface {
	// Variable returns the address of the named variable.
	Variable(name string) (unsafe.Pointer, bool)
	// Offsets returns the offsets of the members named by path: the first
	// in the struct type of the named variable, each next one in the
	// struct type of the member before; a pointer, slice or array is
	// followed to its element.
	Offsets(name string, path ...string) ([]int64, bool)
}

var provider atomic.Pointer[Provider]

// Provide installs the provider the functions of this package ask.
func Provide(p Provider) { provider.Store(&p) }

// Variable returns the address in this process of the package-level variable
// with the fully qualified name, such as "runtime.allfin".
func Variable(name string) (unsafe.Pointer, bool) {
	p := provider.Load()
	if p == nil {
		return nil, false
	}
	return (*p).Variable(name)
}

// Offsets returns, for the package-level variable with the fully qualified
// name, the offset of each member named by path within the struct that
// holds it: Offsets("runtime.allp", "timers", "minWhenHeap") gives where
// timers is in a runtime.p and where minWhenHeap is in a runtime.timers.
func Offsets(name string, path ...string) ([]int64, bool) {
	p := provider.Load()
	if p == nil {
		return nil, false
	}
	return (*p).Offsets(name, path...)
}

// Running reports whether the Go release that built this binary is one of
// releases ("go1.26" matches go1.26 and every go1.26.N): a probe reads a
// runtime structure only on the releases whose layout and meaning it knows.
func Running(releases ...string) bool {
	v := runtime.Version()
	for _, r := range releases {
		if v == r || strings.HasPrefix(v, r+".") {
			return true
		}
	}
	return false
}
