package audit

import (
	"reflect"
	"sync"
	"testing"
	"unsafe"
)

// forgetCleanupsRun drops the references testing keeps to cleanups of t,
// and of its parallel subtests, that have already run. testing pops each
// cleanup off its slice before calling it and leaves it in the slice's
// array, where it keeps alive whatever it closed over: the watcher, file
// or connection a t.Cleanup(func() { w.Close() }) closed is then still in
// use when the audit looks, and among tests running in parallel an object
// still in use that made a descriptor counts as a descriptor the test may
// have left open. A popped cleanup is never called or read again; an
// append overwrites its slot. Where testing's fields are not the ones read
// here (another Go release), nothing is done.
func forgetCleanupsRun(t *testing.T) {
	forgetIn(reflect.ValueOf(t).Elem(), 0)
}

// maxSubtestDepth bounds the walk of nested parallel subtests.
const maxSubtestDepth = 64

func forgetIn(t reflect.Value, depth int) {
	c := t.FieldByName("common")
	if !c.IsValid() || c.Kind() != reflect.Struct || depth > maxSubtestDepth {
		return
	}
	mu, cleanups := c.FieldByName("mu"), c.FieldByName("cleanups")
	if !mu.IsValid() || mu.Type() != reflect.TypeFor[sync.RWMutex]() ||
		!cleanups.IsValid() || cleanups.Type() != reflect.TypeFor[[]func()]() {
		return
	}
	lock := (*sync.RWMutex)(unsafe.Pointer(mu.UnsafeAddr()))
	s := (*[]func())(unsafe.Pointer(cleanups.UnsafeAddr()))
	lock.Lock()
	clear((*s)[len(*s):cap(*s)])
	lock.Unlock()
	sub := c.FieldByName("sub")
	if !sub.IsValid() || sub.Type() != reflect.TypeFor[[]*testing.T]() {
		return
	}
	lock.RLock()
	subs := append([]*testing.T(nil), *(*[]*testing.T)(unsafe.Pointer(sub.UnsafeAddr()))...)
	lock.RUnlock()
	for _, st := range subs {
		if st != nil {
			forgetIn(reflect.ValueOf(st).Elem(), depth+1)
		}
	}
}
