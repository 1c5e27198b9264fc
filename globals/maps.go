package globals

import (
	"errors"
	"reflect"
	"runtime"
	"sync"
	"unsafe"
)

// Maps are read through the runtime's layout rather than its iterator: an
// iteration that meets a write by another goroutine aborts the whole
// process ("concurrent map iteration and map write"), and a snapshot cannot
// take the lock the map's owner writes it under. The layout is Go's Swiss
// table (internal/runtime/maps):
//
//	Map:   used uint64, seed, dirPtr, dirLen int, globalDepth, globalShift,
//	       writing uint8, ..., clearSeq uint64
//	table: used, capacity, growthLeft uint16, localDepth uint8, index int,
//	       groups.data pointer, groups.lengthMask uint64
//	group: a control word (one byte per slot, high bit clear when full),
//	       then 8 slots laid out as reflect.MapOf's group type says
//
// A map with dirLen 0 is a single group at dirPtr; otherwise dirPtr is an
// array of dirLen table pointers (a table may fill several entries). Keys
// and values above 128 bytes are stored behind a pointer.
//
// The layout is checked once per process against the runtime's own
// iteration of maps of several shapes (calibrate); a Go release that changes
// it is detected there, and maps are then read through the iterator as a
// last resort. A read is consistent when the map's header (count, directory,
// clear sequence, writing flag) is the same before and after it; a map that
// keeps changing under three reads is reported as not judged.

const (
	mapGroupSlots   = 8
	mapMaxKeyBytes  = 128
	mapMaxElemBytes = 128
	ctrlFullMask    = 0x80 // a control byte with this bit clear marks a full slot

	offUsed     = 0
	offDirPtr   = 16
	offDirLen   = 24
	offWriting  = 34
	offClearSeq = 40

	offTableGroups = 16
	offTableMask   = 24
)

// errWritten is a map that changed under every attempt to read it.
var errWritten = errors.New("written by another goroutine while being read")

// groupLayout says where the slots of a map type's groups are.
type groupLayout struct {
	size                      uintptr // of one group
	keysOff, keyStride        uintptr
	elemsOff, elemStride      uintptr
	indirectKey, indirectElem bool
	key, elem                 reflect.Type
}

// layoutOf computes the group layout of map type t: interleaved slots
// (ctrl, [8]{key, elem}), or split arrays (ctrl, [8]key, [8]elem) as the
// mapsplitgroup experiment lays them out.
func layoutOf(t reflect.Type, split bool) groupLayout {
	l := groupLayout{key: t.Key(), elem: t.Elem()}
	kt, et := t.Key(), t.Elem()
	if kt.Size() > mapMaxKeyBytes {
		kt, l.indirectKey = reflect.PointerTo(kt), true
	}
	if et.Size() > mapMaxElemBytes {
		et, l.indirectElem = reflect.PointerTo(et), true
	}
	ctrl := reflect.StructField{Name: "Ctrl", Type: reflect.TypeOf(uint64(0))}
	if split {
		g := reflect.StructOf([]reflect.StructField{ctrl,
			{Name: "Keys", Type: reflect.ArrayOf(mapGroupSlots, kt)},
			{Name: "Elems", Type: reflect.ArrayOf(mapGroupSlots, et)}})
		l.size = g.Size()
		l.keysOff, l.keyStride = g.Field(1).Offset, kt.Size()
		l.elemsOff, l.elemStride = g.Field(2).Offset, et.Size()
		return l
	}
	slot := reflect.StructOf([]reflect.StructField{{Name: "Key", Type: kt}, {Name: "Elem", Type: et}})
	g := reflect.StructOf([]reflect.StructField{ctrl, {Name: "Slots", Type: reflect.ArrayOf(mapGroupSlots, slot)}})
	l.size = g.Size()
	l.keysOff, l.keyStride = g.Field(1).Offset, slot.Size()
	l.elemsOff, l.elemStride = g.Field(1).Offset+slot.Field(1).Offset, slot.Size()
	return l
}

// slotRef is one entry of a map, in place.
type slotRef struct{ key, elem reflect.Value }

type mapHeader struct {
	used, clearSeq uint64
	dir            unsafe.Pointer
	dirLen         int
	writing        uint8
}

func readHeader(m unsafe.Pointer) mapHeader {
	return mapHeader{
		used:     load64(unsafe.Add(m, offUsed)),
		dir:      loadPtr(unsafe.Add(m, offDirPtr)),
		dirLen:   int(load64(unsafe.Add(m, offDirLen))),
		writing:  load8(unsafe.Add(m, offWriting)),
		clearSeq: load64(unsafe.Add(m, offClearSeq)),
	}
}

// slots lists the full slots of the map at m. It fails when the header
// looks implausible (a read torn by a concurrent write).
func (l *groupLayout) slots(m unsafe.Pointer, h mapHeader) ([]slotRef, bool) {
	var groups []unsafe.Pointer
	switch {
	case h.dir == nil:
	case h.dirLen == 0:
		groups = append(groups, h.dir)
	default:
		if h.dirLen < 0 || h.dirLen > 1<<24 || h.dirLen&(h.dirLen-1) != 0 {
			return nil, false
		}
		seen := map[unsafe.Pointer]bool{}
		for i := 0; i < h.dirLen; i++ {
			tab := loadPtr(unsafe.Add(h.dir, uintptr(i)*unsafe.Sizeof(uintptr(0))))
			if tab == nil {
				return nil, false
			}
			if seen[tab] {
				continue
			}
			seen[tab] = true
			data, mask := loadPtr(unsafe.Add(tab, offTableGroups)), load64(unsafe.Add(tab, offTableMask))
			if data == nil || mask >= 1<<32 || (mask+1)&mask != 0 {
				return nil, false
			}
			for g := uint64(0); g <= mask; g++ {
				groups = append(groups, unsafe.Add(data, uintptr(g)*l.size))
			}
		}
	}
	out := make([]slotRef, 0, min(h.used, 1<<20))
	for _, g := range groups {
		ctrl := load64(g)
		for i := uintptr(0); i < mapGroupSlots; i++ {
			if byte(ctrl>>(8*i))&ctrlFullMask != 0 {
				continue
			}
			k := unsafe.Add(g, l.keysOff+i*l.keyStride)
			e := unsafe.Add(g, l.elemsOff+i*l.elemStride)
			if l.indirectKey {
				if k = loadPtr(k); k == nil {
					return nil, false
				}
			}
			if l.indirectElem {
				if e = loadPtr(e); e == nil {
					return nil, false
				}
			}
			out = append(out, slotRef{elemAt(l.key, k), elemAt(l.elem, e)})
		}
	}
	return out, uint64(len(out)) == h.used
}

var (
	layoutOnce  sync.Once
	layoutSplit bool
	layoutKnown bool
)

// calibrate finds which group layout the running Go uses by reading maps
// of several shapes (one group; many tables; keys and values stored behind
// pointers; small alignments) both ways and comparing with the runtime's
// own iteration.
func calibrate() {
	small := map[int64]int64{1: 10, 2: 20, 3: 30}
	big := make(map[int64]int64, 3000)
	for i := int64(0); i < 3000; i++ {
		big[i] = i * 7
	}
	type wide [20]int64
	indirect := map[wide]wide{}
	for i := int64(0); i < 40; i++ {
		indirect[wide{i}] = wide{i, i}
	}
	narrow := map[int8]int16{}
	for i := int8(0); i < 100; i++ {
		narrow[i] = int16(i) * 3
	}
	strs := map[string]string{}
	for i := 0; i < 50; i++ {
		strs[string(rune('a'+i%26))+string(rune('A'+i/26))] = string(rune('0' + i%10))
	}
	maps := []any{small, big, indirect, narrow, strs}
	for _, split := range []bool{false, true} {
		ok := true
		for _, m := range maps {
			if !sameAsRuntime(reflect.ValueOf(m), split) {
				ok = false
				break
			}
		}
		if ok {
			layoutSplit, layoutKnown = split, true
			return
		}
	}
}

func sameAsRuntime(m reflect.Value, split bool) (same bool) {
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	l := layoutOf(m.Type(), split)
	p := m.UnsafePointer()
	h := readHeader(p)
	if h.writing != 0 || h.used != uint64(m.Len()) {
		return false
	}
	refs, ok := l.slots(p, h)
	if !ok || len(refs) != m.Len() {
		return false
	}
	for _, r := range refs {
		v := m.MapIndex(r.key)
		if !v.IsValid() || !v.Equal(r.elem) {
			return false
		}
	}
	runtime.KeepAlive(m)
	return true
}

// readMap calls visit with the entries of the map held by v, and again
// (at most three times in all) while the map's header shows it changed
// during the read; then it gives up with errWritten. A fault while reading
// (a torn value pointing nowhere) is an errWritten too. known is false when
// the layout of this Go release is not known: the caller falls back to the
// runtime's iterator.
func readMap(v reflect.Value, visit func([]slotRef)) (known bool, err error) {
	layoutOnce.Do(calibrate)
	if !layoutKnown {
		return false, nil
	}
	m := readPointer(v)
	if m == nil {
		visit(nil)
		return true, nil
	}
	l := layoutOf(v.Type(), layoutSplit)
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			runtime.Gosched()
		}
		if tryRead(m, &l, visit) {
			return true, nil
		}
	}
	return true, errWritten
}

func tryRead(m unsafe.Pointer, l *groupLayout, visit func([]slotRef)) (ok bool) {
	defer func() {
		if faulted(recover()) {
			ok = false
		}
	}()
	h := readHeader(m)
	if h.writing != 0 {
		return false
	}
	refs, ok := l.slots(m, h)
	if !ok {
		return false
	}
	visit(refs)
	return readHeader(m) == h
}
