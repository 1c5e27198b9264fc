package globals

import (
	"math"
	"reflect"
	"runtime"
	"time"
	"unsafe"
)

// A snapshot reads memory that other goroutines may be writing under locks
// the snapshot does not hold: a package-level map guarded by its owner's
// mutex, the state of an open file, a registry being filled. Every read of
// such memory goes through the functions of this file, which the race
// detector does not instrument (go:norace), one word at a time, so that a
// -race run reports no race that the program without the snapshot would
// not. A torn value (one word old, one new) is the worst a concurrent write
// can cause; maps are read by their layout (maps.go), never through the
// runtime's iterator, which aborts the process on a concurrent write.
//
// Values that are not addressable are private copies (a boxed interface
// value, which Go never changes in place) and are read through reflect.

// faulted reports whether e, a value recovered from a read of such memory,
// is a fault (take makes faults panic, debug.SetPanicOnFault: a torn value
// may point nowhere), and panics again with anything else, a bug's panic
// among them. It is false for nil.
func faulted(e any) bool {
	if e == nil {
		return false
	}
	if _, fault := e.(runtime.Error); !fault {
		panic(e)
	}
	return true
}

//go:norace
func load8(p unsafe.Pointer) uint8 { return *(*uint8)(p) }

//go:norace
func load16(p unsafe.Pointer) uint16 { return *(*uint16)(p) }

//go:norace
func load32(p unsafe.Pointer) uint32 { return *(*uint32)(p) }

//go:norace
func load64(p unsafe.Pointer) uint64 { return *(*uint64)(p) }

//go:norace
func loadPtr(p unsafe.Pointer) unsafe.Pointer { return *(*unsafe.Pointer)(p) }

//go:norace
func loadTime(p unsafe.Pointer) time.Time { return *(*time.Time)(p) }

//go:norace
func loadIface(p unsafe.Pointer) [2]unsafe.Pointer { return *(*[2]unsafe.Pointer)(p) }

// bitsOf returns the bits of a scalar of 1, 2, 4 or 8 bytes.
func bitsOf(v reflect.Value) uint64 {
	p := unsafe.Pointer(v.UnsafeAddr())
	switch v.Type().Size() {
	case 1:
		return uint64(load8(p))
	case 2:
		return uint64(load16(p))
	case 4:
		return uint64(load32(p))
	}
	return load64(p)
}

func readBool(v reflect.Value) bool {
	if v.CanAddr() {
		return bitsOf(v) != 0
	}
	return v.Bool()
}

func readInt(v reflect.Value) int64 {
	if !v.CanAddr() {
		return v.Int()
	}
	b := bitsOf(v)
	switch v.Type().Size() {
	case 1:
		return int64(int8(b))
	case 2:
		return int64(int16(b))
	case 4:
		return int64(int32(b))
	}
	return int64(b)
}

func readUint(v reflect.Value) uint64 {
	if !v.CanAddr() {
		return v.Uint()
	}
	return bitsOf(v)
}

func readFloat(v reflect.Value) float64 {
	if !v.CanAddr() {
		return v.Float()
	}
	if v.Kind() == reflect.Float32 {
		return float64(math.Float32frombits(uint32(bitsOf(v))))
	}
	return math.Float64frombits(bitsOf(v))
}

func readComplex(v reflect.Value) complex128 {
	if !v.CanAddr() {
		return v.Complex()
	}
	p := unsafe.Pointer(v.UnsafeAddr())
	if v.Kind() == reflect.Complex64 {
		return complex(float64(math.Float32frombits(load32(p))), float64(math.Float32frombits(load32(unsafe.Add(p, 4)))))
	}
	return complex(math.Float64frombits(load64(p)), math.Float64frombits(load64(unsafe.Add(p, 8))))
}

// readString returns the string held by v. Its bytes are never written in
// place, so only the header is read with care.
func readString(v reflect.Value) string {
	if !v.CanAddr() {
		return v.String()
	}
	p := unsafe.Pointer(v.UnsafeAddr())
	data, n := loadPtr(p), int(load64(unsafe.Add(p, 8)))
	if data == nil || n <= 0 {
		return ""
	}
	return unsafe.String((*byte)(data), n)
}

// readPointer returns the word of a pointer, map, channel or
// unsafe.Pointer, or of an addressable func (its closure's address).
func readPointer(v reflect.Value) unsafe.Pointer {
	if v.CanAddr() {
		return loadPtr(unsafe.Pointer(v.UnsafeAddr()))
	}
	return v.UnsafePointer()
}

// funcPC returns the entry of the code a func value runs.
func funcPC(v reflect.Value) uintptr {
	if !v.CanAddr() {
		return v.Pointer()
	}
	closure := readPointer(v)
	if closure == nil {
		return 0
	}
	return uintptr(loadPtr(closure)) // a closure's first word is its code
}

// readSlice returns the data pointer and length of a slice.
func readSlice(v reflect.Value) (unsafe.Pointer, int) {
	if !v.CanAddr() {
		return v.UnsafePointer(), v.Len()
	}
	p := unsafe.Pointer(v.UnsafeAddr())
	return loadPtr(p), int(load64(unsafe.Add(p, 8)))
}

// readInterface returns an addressable copy of the dynamic value of an
// interface. ok is false for a nil interface. The boxed value an interface
// points to is never changed in place, so only the interface's two words
// need care.
func readInterface(v reflect.Value) (reflect.Value, bool) {
	var e reflect.Value
	if !v.CanAddr() {
		if v.IsNil() {
			return reflect.Value{}, false
		}
		e = v.Elem()
	} else {
		w := loadIface(unsafe.Pointer(v.UnsafeAddr()))
		if w[0] == nil {
			return reflect.Value{}, false
		}
		typ := w[0]
		if v.Type().NumMethod() > 0 {
			typ = loadPtr(unsafe.Add(w[0], unsafe.Sizeof(uintptr(0)))) // itab._type
		}
		var x any
		(*[2]unsafe.Pointer)(unsafe.Pointer(&x))[0] = typ
		(*[2]unsafe.Pointer)(unsafe.Pointer(&x))[1] = w[1]
		t := reflect.TypeOf(x)
		if !directIface(t) {
			// The data word points to the boxed value: read it in place.
			return reflect.NewAt(t, w[1]).Elem(), true
		}
		e = reflect.ValueOf(x)
	}
	if !e.CanInterface() {
		return e, true
	}
	cp := reflect.New(e.Type()).Elem()
	cp.Set(e)
	return cp, true
}

// directIface reports whether an interface holds a value of type t in its
// data word itself (pointer-shaped types), rather than a pointer to it.
func directIface(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Chan, reflect.Map, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return t.Len() == 1 && directIface(t.Elem())
	case reflect.Struct:
		return t.NumField() == 1 && directIface(t.Field(0).Type)
	}
	return false
}

// elemAt is the value of type t stored at p.
func elemAt(t reflect.Type, p unsafe.Pointer) reflect.Value {
	return reflect.NewAt(t, p).Elem()
}

// copyNoRace copies len(dst) bytes from src, a word at a time where it can.
//
//go:norace
func copyNoRace(dst []byte, src unsafe.Pointer) {
	i := 0
	for ; i+8 <= len(dst); i += 8 {
		*(*uint64)(unsafe.Pointer(&dst[i])) = *(*uint64)(unsafe.Add(src, i))
	}
	for ; i < len(dst); i++ {
		dst[i] = *(*byte)(unsafe.Add(src, i))
	}
}

// equalNoRace reports whether the len(want) bytes at p are want's.
//
//go:norace
func equalNoRace(want []byte, p unsafe.Pointer) bool {
	i := 0
	for ; i+8 <= len(want); i += 8 {
		if *(*uint64)(unsafe.Pointer(&want[i])) != *(*uint64)(unsafe.Add(p, i)) {
			return false
		}
	}
	for ; i < len(want); i++ {
		if want[i] != *(*byte)(unsafe.Add(p, i)) {
			return false
		}
	}
	return true
}
