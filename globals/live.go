package globals

// The live side of the index: from the DWARF description of a variable of
// the running executable to a reflect.Value of it, through the runtime type
// descriptors DWARF points to or, for types the linker kept none of, types
// rebuilt from their DWARF layout.

import (
	"debug/dwarf"
	"errors"
	"fmt"
	"go/token"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"github.com/residue-go/residue/internal/debuginfo"
	"github.com/residue-go/residue/internal/stack"
)

// typeAnchor is a variable whose address and type this package knows at run
// time: it ties DWARF addresses and type offsets to the running process.
var typeAnchor = 1

// self is the index of the running executable with what it takes to turn a
// Variable into a live reflect.Value.
type self struct {
	*index
	rtypes     map[dwarf.Offset]reflect.Type
	anchorAddr uint64 // typeAnchor's address in DWARF
	intOffset  int64  // int's offset in the type section
}

var (
	selfMu  sync.Mutex
	selfIx  *self
	selfErr error // kept only when it cannot change: no debug info
)

// selfIndex returns the index of the running executable, built once per
// process. An executable without debug info gives a *noDebugInfoError, on
// every call; any other failure (the executable could not be opened: too
// many open files, for one) is returned once and tried again on the next
// call.
func selfIndex() (*self, error) {
	selfMu.Lock()
	defer selfMu.Unlock()
	if selfIx != nil || selfErr != nil {
		return selfIx, selfErr
	}
	ix, err := openSelf()
	if err == nil {
		selfIx = ix
	} else if nd := new(noDebugInfoError); errors.As(err, &nd) {
		selfErr = err
	}
	return ix, err
}

func openSelf() (*self, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding the running executable: %w", err)
	}
	ix, err := openIndex(runningFile(exe))
	if nd := new(noDebugInfoError); errors.As(err, &nd) {
		nd.Path = exe
	}
	if err != nil {
		return nil, err
	}
	pkg := reflect.TypeOf(Change{}).PkgPath()
	anchor, ok := ix.Lookup(pkg + ".typeAnchor")
	if !ok || anchor.RuntimeType < 0 {
		return nil, &noDebugInfoError{Path: exe, Err: fmt.Errorf("DWARF lists no %s.typeAnchor with its runtime type", pkg)}
	}
	s := &self{index: ix, rtypes: map[dwarf.Offset]reflect.Type{}}
	s.anchorAddr, s.intOffset = anchor.Addr, anchor.RuntimeType
	if t := s.typeAt(anchor.RuntimeType); t != reflect.TypeOf(0) {
		return nil, fmt.Errorf("the runtime type offsets in %s's DWARF do not match the running process", exe)
	}
	return s, nil
}

func init() { debuginfo.Provide(selfInfo{}) }

// selfInfo answers the other probes' questions about this process's
// variables (the debuginfo package) from the same index as the snapshots.
type selfInfo struct{}

// Variable is where the package-level variable with the fully qualified
// name lives in this process.
func (selfInfo) Variable(name string) (unsafe.Pointer, bool) {
	s, v, ok := findSelf(name)
	if !ok {
		return nil, false
	}
	return s.addr(v), true
}

// Offsets gives the offsets of the members on path from the variable's type
// (index.offsets).
func (selfInfo) Offsets(name string, path ...string) ([]int64, bool) {
	s, v, ok := findSelf(name)
	if !ok {
		return nil, false
	}
	return s.offsets(v.typ, path)
}

// findSelf finds the named variable in this process's index.
func findSelf(name string) (*self, variable, bool) {
	s, err := selfIndex()
	if err != nil {
		return nil, variable{}, false
	}
	v, ok := s.Find(name)
	return s, v, ok
}

// typeSection returns the bounds of the running binary's section of
// run-time types, [lo, hi): the types and etypes fields of
// runtime.firstmoduledata, read as any variable is (self.value). Zero when
// they cannot be read. Test binaries hold one module.
func typeSection() (lo, hi uintptr) {
	typeBounds.once.Do(func() {
		s, err := selfIndex()
		if err != nil {
			return
		}
		v, ok := s.Find("runtime.firstmoduledata")
		if !ok {
			return
		}
		md, ok := s.value(v)
		if !ok {
			return
		}
		field := func(name string) (uintptr, bool) {
			f := md.FieldByName(name)
			if f.Kind() != reflect.Uintptr {
				return 0, false
			}
			return uintptr(f.Uint()), true
		}
		lo, okLo := field("types")
		hi, okHi := field("etypes")
		// int's type is in the section: a layout read wrong is not used.
		if t := uintptr(typePointer(reflect.TypeOf(0))); okLo && okHi && lo <= t && t < hi && uint64(hi-lo) < 1<<32 {
			typeBounds.lo, typeBounds.hi = lo, hi
		}
	})
	return typeBounds.lo, typeBounds.hi
}

var typeBounds struct {
	once   sync.Once
	lo, hi uintptr
}

// runningFile is the file to read the running executable's debug info from:
// on Linux /proc/self/exe, which is the file the process was started from
// even when exe's path has since been given another build (a test binary
// rebuilt in place while it runs); the addresses of another build's debug
// info would be read as this process's.
func runningFile(exe string) string {
	const self = "/proc/self/exe"
	if runtime.GOOS == "linux" {
		if _, err := os.Stat(self); err == nil {
			return self
		}
	}
	return exe
}

// typePointer returns the runtime type descriptor behind t.
func typePointer(t reflect.Type) unsafe.Pointer {
	e := any(t)
	// t is a *reflect.rtype: the data word of the interface is the descriptor.
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&e))[1]
}

// typeCache keeps what is worked out once per type, by the type's
// descriptor, for every goroutine to read.
type typeCache[V any] struct {
	mu sync.RWMutex
	m  map[unsafe.Pointer]V
}

func newTypeCache[V any]() *typeCache[V] {
	return &typeCache[V]{m: map[unsafe.Pointer]V{}}
}

// lookup returns what c keeps for t, and whether it keeps anything.
func (c *typeCache[V]) lookup(t reflect.Type) (V, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[typePointer(t)]
	return v, ok
}

// of returns what c keeps for t, working it out with work on first use.
// Two goroutines may both work it out; the last one's is kept.
func (c *typeCache[V]) of(t reflect.Type, work func(reflect.Type) V) V {
	if v, ok := c.lookup(t); ok {
		return v
	}
	v := work(t)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m[typePointer(t)] = v
	return v
}

// typeAt turns a type-section offset into a reflect.Type.
//
//go:nocheckptr
func (s *self) typeAt(off int64) reflect.Type {
	var e any
	(*[2]unsafe.Pointer)(unsafe.Pointer(&e))[0] = unsafe.Add(typePointer(reflect.TypeOf(0)), off-s.intOffset)
	return reflect.TypeOf(e)
}

// value returns the live variable v, or false when its type cannot be
// resolved or does not match what DWARF records.
func (s *self) value(v variable) (reflect.Value, bool) {
	s.mu.Lock()
	t := s.reflectType(v.typ, 0)
	s.mu.Unlock()
	if t == nil || v.Size < 0 || int64(t.Size()) != v.Size {
		return reflect.Value{}, false
	}
	return reflect.NewAt(t, s.addr(v)).Elem(), true
}

// part is one field of a struct whose type has no run-time descriptor,
// read on its own.
type part struct {
	name  string
	value reflect.Value
	parts []part // when value is not valid: the field's own fields
}

// parts splits a variable whose struct type cannot be resolved into its
// fields, as DWARF lays them out, down to fields whose types can be.
func (s *self) parts(v variable) ([]part, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.structParts(s.addr(v), v.typ, 0)
}

//go:nocheckptr
func (s *self) structParts(base unsafe.Pointer, off dwarf.Offset, depth int) ([]part, bool) {
	ti := s.typeInfo(off)
	for ti.tag == dwarf.TagTypedef && ti.under != 0 && depth < 8 {
		ti = s.typeInfo(ti.under)
		depth++
	}
	if ti.tag != dwarf.TagStructType || depth > 8 {
		return nil, false
	}
	var out []part
	for _, m := range ti.members {
		name := m.name
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		p := unsafe.Add(base, m.offset)
		if t := s.reflectType(m.typ, 0); t != nil {
			out = append(out, part{name: name, value: reflect.NewAt(t, p).Elem()})
			continue
		}
		if sub, ok := s.structParts(p, m.typ, depth+1); ok {
			out = append(out, part{name: name, parts: sub})
		}
	}
	return out, true
}

// reflectType turns a DWARF type entry into a reflect.Type: through its
// runtime type when DWARF records one, else (unnamed slices, arrays,
// pointers, maps and channels the program never converts to an interface)
// by building it from its parts. It returns nil when neither works. s.mu is
// held.
func (s *self) reflectType(off dwarf.Offset, depth int) reflect.Type {
	if t, ok := s.rtypes[off]; ok {
		return t
	}
	if depth > 64 {
		return nil
	}
	ti := s.typeInfo(off)
	var t reflect.Type
	part := func(o dwarf.Offset) reflect.Type {
		if o == 0 {
			return nil
		}
		return s.reflectType(o, depth+1)
	}
	switch {
	case ti.runtime > 0:
		t = s.typeAt(ti.runtime)
	case ti.tag == dwarf.TagTypedef:
		t = part(ti.under)
	case ti.kind == int64(reflect.Slice):
		// Before the struct case: DWARF records a slice as a struct of
		// array, len and cap, which would be compared as three fields
		// (an empty slice that grew its spare capacity would look changed).
		if e := part(ti.elem); e != nil {
			t = reflect.SliceOf(e)
		}
	case ti.tag == dwarf.TagStructType:
		s.rtypes[off] = nil // a pointer back to this struct reads as unsafe.Pointer
		if ti.name != "" {
			t = namedByPointer(ti.name, ti.size)
		}
		if t == nil {
			t = s.structOf(ti, depth)
		}
	case ti.tag == dwarf.TagPointerType:
		if e := part(ti.under); e != nil {
			t = reflect.PointerTo(e)
		} else {
			t = reflect.TypeOf(unsafe.Pointer(nil)) // read by identity only
		}
	case ti.tag == dwarf.TagArrayType && ti.count >= 0:
		if e := part(ti.under); e != nil {
			t = reflect.ArrayOf(int(ti.count), e)
		}
	case ti.kind == int64(reflect.Map):
		k, e := part(ti.key), part(ti.elem)
		if k != nil && e != nil && k.Comparable() {
			t = reflect.MapOf(k, e)
		}
	case ti.kind == int64(reflect.Chan):
		if e := part(ti.elem); e != nil {
			t = reflect.ChanOf(reflect.BothDir, e)
		}
	case ti.kind == int64(reflect.Func):
		t = reflect.TypeOf(func() {}) // read by identity only
	}
	if t != nil && ti.size >= 0 && int64(t.Size()) != ti.size {
		t = nil
	}
	s.rtypes[off] = t
	return t
}

// structOf builds an unnamed struct type with the layout DWARF records,
// for struct types the linker kept no run-time descriptor of.
func (s *self) structOf(ti typeInfo, depth int) (t reflect.Type) {
	fields := make([]reflect.StructField, 0, len(ti.members))
	for i, m := range ti.members {
		ft := s.reflectType(m.typ, depth+1)
		if ft == nil {
			return nil
		}
		f := reflect.StructField{Name: m.name, Type: ft}
		if dot := strings.LastIndexByte(m.name, '.'); dot >= 0 {
			f.PkgPath, f.Name = m.name[:dot], m.name[dot+1:]
		}
		if f.Name == "" || f.Name == "_" {
			f.Name = "_" + strconv.Itoa(i)
		}
		if !token.IsExported(f.Name) && f.PkgPath == "" {
			f.PkgPath = "main"
		}
		fields = append(fields, f)
	}
	defer func() {
		if recover() != nil {
			t = nil
		}
	}()
	t = reflect.StructOf(fields)
	for i, m := range ti.members {
		if int64(t.Field(i).Offset) != m.offset {
			return nil
		}
	}
	nameBuilt(t, ti.name)
	return t
}

// addr is where v lives in this process: DWARF addresses are shifted by the
// load slide of position-independent executables, measured on typeAnchor.
// The arithmetic crosses from one variable to another, which the race
// detector's pointer checks would reject.
//
//go:nocheckptr
func (s *self) addr(v variable) unsafe.Pointer {
	return unsafe.Add(unsafe.Pointer(&typeAnchor), int64(v.Addr-s.anchorAddr))
}

// function returns package pkg's function named name ("mime.initMime"),
// when the binary has it and takes no arguments, as a func() to call: its
// entry from DWARF, moved by the load slide like a variable's address, and
// confirmed by the runtime's own table of functions.
//
//go:nocheckptr
func (s *self) function(pkg, name string) (func(), bool) {
	if !strings.HasPrefix(name, pkg+".") {
		return nil, false
	}
	sym := stack.SymbolPrefix(pkg) + name[len(pkg):] // as the binary spells it
	s.mu.Lock()
	at, ok := s.index.function(pkg, sym)
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	pc := uintptr(unsafe.Add(unsafe.Pointer(&typeAnchor), int64(at-s.anchorAddr)))
	if f := runtime.FuncForPC(pc); f == nil || f.Entry() != pc || f.Name() != sym {
		return nil, false
	}
	// A func value points to a closure whose first word is the code's
	// address; a package-level function's has nothing more.
	closure := &pc
	return *(*func())(unsafe.Pointer(&closure)), true
}

// nameOf returns the name of the package-level variable at p, if the
// packages already read hold one there.
func (s *self) nameOf(p uintptr) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, vs := range s.vars {
		for _, v := range vs {
			if uintptr(s.addr(v)) == p {
				return v.Name, true
			}
		}
	}
	return "", false
}
