package globals

// Fingerprints: what keeps a snapshot's cost in proportion to what changed.
//
// Capturing a variable (state.go) builds a tree of nodes with the text of
// every value, which is what a report needs but costs allocations and
// formatting for every value of every variable in scope, twice per block.
// Most variables do not change between two snapshots. A fingerprint is a
// 64-bit hash of everything a capture of the variable reads: the raw bits
// of its scalars, the bytes of its strings, the words of its pointers,
// interfaces, funcs and channels, and, following them, everything they
// lead to, through the same rules as the capture (a sync.Mutex is not read,
// a sync.Map is read through Range, a map through its layout, ...). It is
// computed from a walk plan worked out once per type, allocates nothing,
// formats nothing, and hashes runs of pointer-free memory a word at a time.
//
// Each variable's last capture is kept with the fingerprint of the memory
// it was taken from. A later snapshot computes the fingerprint again and,
// when it is the same, reuses the captured tree (trees are never changed
// once built); otherwise it captures the variable again. The fingerprint
// reads at least everything the capture reads (it may read more: a
// time.Location's cache, a map's iteration order; then an unchanged value
// is merely captured again), so the same fingerprint means the same
// capture, up to a 64-bit hash collision. A capture is kept only when the
// fingerprint taken right after it equals the one taken before it (no
// other goroutine changed the variable meanwhile) and it read everything
// consistently (no map written under it, no value cap reached).

import (
	"math/bits"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

type fpKind uint8

const (
	fpFlat         fpKind = iota // size bytes of pointer-free memory
	fpString                     // length and bytes
	fpSlice                      // length, then elements (raw when capture hashes them raw)
	fpArray                      // elements, each by elem
	fpStruct                     // fields
	fpPointer                    // the word, then what it points to
	fpIface                      // the two words, then the dynamic value
	fpMap                        // the word, then the entries by the map's layout
	fpFunc                       // the closure and code words (and a OnceFunc's done flag)
	fpWord                       // one pointer-sized word read by identity (chan, unsafe.Pointer)
	fpAddr                       // the value's address only (the identity rule)
	fpSkip                       // not read (the notRead rule)
	fpOnce                       // a sync.Once: its done flag
	fpSyncMap                    // a sync.Map, through Range
	fpAtomicValue                // atomic.Value: its interface, loaded atomically
	fpAtomicPtr                  // atomic.Pointer[T]: the word at off, then *T
	fpAtomic32                   // atomic 32-bit types: the word at off
	fpAtomic64                   // atomic 64-bit types: the word at off
	fpOSFile                     // os.File: the *file word and its name
	fpServeMux                   // http.ServeMux: every field, under its read lock
	fpNotSupported               // a value the fingerprint cannot follow: never reuse
)

// fpPlan is how to fingerprint the values of one type.
type fpPlan struct {
	kind     fpKind
	typ      reflect.Type
	size     uintptr
	elem     *fpPlan   // pointer, slice, array, map value, atomic.Pointer target
	key      *fpPlan   // map key
	fields   []fpField // struct
	n        int       // array length
	off      uintptr   // once: done; atomics: the loaded field; os.File: file.name; ServeMux: mu
	rawElems bool      // slice or array: capture hashes long runs of elements raw
	elemFree bool      // pointer: the target is pointer-free (capture does not remember it)
	cacheMap bool      // map: a cache (mapRules), its entries not read
	ifaceKey bool      // map: keys are interfaces (cachedEntry)
	layout   *groupLayout
	inner    *fpPlan // ServeMux: its fields, as a plain struct
	direct   bool    // an interface holds the value in its data word
}

type fpField struct {
	off  uintptr
	plan *fpPlan
}

// plans are the walk plans of the types met.
var plans = newTypeCache[*fpPlan]()

// planFor returns the walk plan of t, working it out on first use.
func planFor(t reflect.Type) *fpPlan {
	if p, ok := plans.lookup(t); ok {
		return p
	}
	plans.mu.Lock()
	defer plans.mu.Unlock()
	return buildPlan(t)
}

// buildPlan works out the plan of t and of the types it leads to.
// plans.mu is held throughout, so that no reader sees a plan half built; a
// plan is registered before its parts are built, so that a recursive type
// refers to itself.
func buildPlan(t reflect.Type) *fpPlan {
	key := typePointer(t)
	if p := plans.m[key]; p != nil {
		return p
	}
	p := &fpPlan{typ: t, size: t.Size(), direct: directIface(t)}
	plans.m[key] = p
	if r := typeRuleFor(t); r != nil {
		planRule(p, t, r)
		return p
	}
	planKind(p, t, nil)
	return p
}

// flat reports whether the values of t are pointer-free and read by no
// rule: their bits are all a capture reads of them.
func flat(t reflect.Type) bool {
	// A long array of pointer-free elements is hashed raw by the capture
	// too; a short one element by element, through rules.
	return scalarTree(t, func(t reflect.Type) bool { return typeRuleFor(t) != nil })
}

// planKind fills p by t's kind. keep, for a struct, selects the fields
// read (all when nil).
func planKind(p *fpPlan, t reflect.Type, keep func(reflect.StructField) bool) {
	if keep == nil && flat(t) {
		p.kind = fpFlat
		return
	}
	switch t.Kind() {
	case reflect.String:
		p.kind = fpString
	case reflect.Chan, reflect.UnsafePointer:
		p.kind = fpWord
	case reflect.Func:
		p.kind = fpFunc
	case reflect.Pointer:
		p.kind = fpPointer
		p.elemFree = pointerFree(t.Elem())
		p.elem = buildPlan(t.Elem())
	case reflect.Interface:
		p.kind = fpIface
	case reflect.Slice:
		p.kind = fpSlice
		p.rawElems = pointerFree(t.Elem())
		p.elem = buildPlan(t.Elem())
	case reflect.Array:
		p.kind = fpArray
		p.n = t.Len()
		p.rawElems = p.n >= bigScalars && pointerFree(t.Elem())
		p.elem = buildPlan(t.Elem())
	case reflect.Map:
		p.kind = fpMap
		p.cacheMap = isCacheMap(t)
		p.ifaceKey = t.Key().Kind() == reflect.Interface
		layoutOnce.Do(calibrate)
		if !layoutKnown {
			p.kind = fpNotSupported
			return
		}
		l := layoutOf(t, layoutSplit)
		p.layout = &l
		p.key = buildPlan(t.Key())
		p.elem = buildPlan(t.Elem())
	case reflect.Struct:
		p.kind = fpStruct
		var run *fpField // the pointer-free run being extended
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if keep != nil && !keep(f) {
				run = nil
				continue
			}
			if flat(f.Type) {
				if f.Type.Size() == 0 {
					continue
				}
				if run != nil && run.off+run.plan.size == f.Offset {
					run.plan.size += f.Type.Size()
					continue
				}
				p.fields = append(p.fields, fpField{off: f.Offset, plan: &fpPlan{kind: fpFlat, size: f.Type.Size()}})
				run = &p.fields[len(p.fields)-1]
				continue
			}
			run = nil
			p.fields = append(p.fields, fpField{off: f.Offset, plan: buildPlan(f.Type)})
		}
	default:
		p.kind = fpNotSupported
	}
}

// planRule fills p for a type a rule of rules.go reads: the fingerprint
// reads what the rule's reader reads.
func planRule(p *fpPlan, t reflect.Type, r *typeRule) {
	switch r.what {
	case "sync.Map":
		p.kind = fpSyncMap
	case "sync.Once":
		p.kind = fpOnce
		p.off = ^uintptr(0)
		if f, ok := t.FieldByName("done"); ok && f.Type.Size() == 4 {
			p.off = f.Offset
		}
	case "the other types of package sync: Mutex, RWMutex, WaitGroup, Cond, Pool",
		"weak.Pointer and unique.Handle",
		"internal/godebug.Setting":
		p.kind = fpSkip
	case "sync/atomic types":
		planAtomic(p, t)
	case "types of the runtime, internal/abi and internal/sync",
		"internal/poll.FD, fdMutex, pollDesc",
		"google.golang.org/protobuf's descriptors and message infos (internal/filedesc, internal/impl)",
		"the random sources of math/rand and math/rand/v2 (rngSource, PCG, ChaCha8)":
		switch t.Kind() {
		case reflect.Chan, reflect.UnsafePointer, reflect.Pointer, reflect.Map:
			p.kind = fpWord
		case reflect.Func:
			p.kind = fpFunc
		default:
			p.kind = fpAddr
		}
	case "os.File":
		p.kind = fpNotSupported
		if f, ok := t.FieldByName("file"); ok && f.Offset == 0 && f.Type.Kind() == reflect.Pointer {
			if n, ok := f.Type.Elem().FieldByName("name"); ok && n.Type.Kind() == reflect.String {
				p.kind, p.off = fpOSFile, n.Offset
			}
		}
	case "time.Time":
		// Read by instant and location: its words and its Location.
		planKind(p, t, func(reflect.StructField) bool { return true })
	case "net/http.ServeMux":
		p.kind = fpNotSupported
		if f, ok := t.FieldByName("mu"); ok && f.Type == reflect.TypeOf(sync.RWMutex{}) {
			p.kind, p.off = fpServeMux, f.Offset
			inner := &fpPlan{typ: t, size: t.Size()}
			planKind(inner, t, func(reflect.StructField) bool { return true })
			p.inner = inner
		}
	case "net/http.Transport, net/http.Server, database/sql.DB":
		planKind(p, t, func(f reflect.StructField) bool {
			return f.IsExported() || f.Type == reflect.TypeOf(sync.Once{})
		})
	default:
		// A rule this file does not know: such variables are captured
		// every time.
		p.kind = fpNotSupported
	}
}

// planAtomic mirrors (*capturer).atomic.
func planAtomic(p *fpPlan, t reflect.Type) {
	name := t.Name()
	last := uintptr(0)
	if t.Kind() == reflect.Struct && t.NumField() > 0 {
		last = t.Field(t.NumField() - 1).Offset
	}
	switch {
	case t.Kind() != reflect.Struct:
		planKind(p, t, func(reflect.StructField) bool { return true })
	case name == "Value":
		p.kind = fpAtomicValue
	case strings.HasPrefix(name, "Pointer[") && t.NumField() > 0:
		p.kind, p.off = fpAtomicPtr, last
		elem := t.Field(0).Type.Elem() // the [0]*T field
		p.elemFree = pointerFree(elem.Elem())
		p.elem = buildPlan(elem.Elem())
	case name == "Int32" || name == "Uint32" || name == "Bool":
		p.kind, p.off = fpAtomic32, last
	case name == "Int64" || name == "Uint64" || name == "Uintptr":
		p.kind, p.off = fpAtomic64, last
	default:
		planKind(p, t, func(reflect.StructField) bool { return true })
	}
}

// fingerprinter walks variables by their plans.
type fingerprinter struct {
	h uint64
	// seen holds what a walk has met, as the walk's generation (gen):
	// each walk starts a generation instead of clearing the map, whose
	// clearing costs its capacity, grown by the largest variable. Its
	// keys are addresses, not pointers: a map of pointers kept from walk
	// to walk held up to maxSeen of them, every one marked by every GC
	// cycle, and kept what they pointed to alive (a dropped *os.File's
	// finalizer waited for the map to be cleared). met keeps what the
	// current walk met alive, so that no address it holds is reused
	// before the walk ends; it is emptied as the walk ends.
	seen   map[fpVisit]uint32
	met    []unsafe.Pointer
	gen    uint32
	visits int
	bad    bool                       // met something it cannot vouch for
	words  []unsafe.Pointer           // the data words of interfaces holding pointer-shaped values, by depth
	ifaces [][2]unsafe.Pointer        // interfaces loaded from a sync.Map or atomic.Value, by depth
	depth  int                        // of interfaces held in words and ifaces
	plans  map[unsafe.Pointer]*fpPlan // dynamic types met, without plans.mu
	recent [2]typedPlan               // the last two of plans asked for (planOf)
}

type typedPlan struct {
	typ  unsafe.Pointer
	plan *fpPlan
}

type fpVisit struct {
	addr uintptr
	plan uintptr // the *fpPlan's address; plans live as long as the process
}

// maxVisits bounds a fingerprint's walk, like maxNodes a capture's.
const maxVisits = maxNodes

func newFingerprinter() *fingerprinter {
	return &fingerprinter{
		seen:   map[fpVisit]uint32{},
		words:  make([]unsafe.Pointer, 64),
		ifaces: make([][2]unsafe.Pointer, 64),
		plans:  map[unsafe.Pointer]*fpPlan{},
	}
}

// fingerprinters are reused from snapshot to snapshot, with what they
// learnt of dynamic types.
var fingerprinters = sync.Pool{New: func() any { return newFingerprinter() }}

// release hands the capturer's fingerprinter back.
func (c *capturer) release() {
	if c.fp != nil {
		fingerprinters.Put(c.fp)
		c.fp = nil
	}
}

// onceFns records, by code address, whether a func is a closure of
// sync.OnceFunc, OnceValue or OnceValues.
var onceFns sync.Map

const (
	fpK1 = 0x9e3779b97f4a7c15
	fpK2 = 0xc2b2ae3d27d4eb4f
)

func fpMix(h, x uint64) uint64 {
	return bits.RotateLeft64(h^(x*fpK1), 31) * fpK2
}

func (f *fingerprinter) word(x uint64) { f.h = fpMix(f.h, x) }

// memHash mixes n bytes at p into h, a word at a time, without the race
// detector's instrumentation (see load.go).
//
//go:norace
//go:nocheckptr
func memHash(h uint64, p unsafe.Pointer, n uintptr) uint64 {
	i := uintptr(0)
	for ; i+8 <= n; i += 8 {
		h = fpMix(h, *(*uint64)(unsafe.Add(p, i)))
	}
	if i < n {
		var x uint64
		for j := uintptr(0); i+j < n; j++ {
			x |= uint64(*(*byte)(unsafe.Add(p, i+j))) << (8 * j)
		}
		h = fpMix(h, x)
	}
	return fpMix(h, uint64(n))
}

// variable fingerprints the value of type t at p. ok is false when the
// walk met something it cannot vouch for: the caller then captures the
// variable without reusing anything.
func (f *fingerprinter) variable(t reflect.Type, p unsafe.Pointer) (h uint64, ok bool) {
	return f.variableOf(planFor(t), p)
}

// maxSeen bounds the entries seen keeps from walk to walk.
const maxSeen = 1 << 16

// variableOf is variable by the plan of its type.
func (f *fingerprinter) variableOf(plan *fpPlan, p unsafe.Pointer) (h uint64, ok bool) {
	f.h, f.visits, f.bad, f.depth = fpK2, 0, false, 0
	if f.gen++; f.gen == 0 || len(f.seen) > maxSeen {
		clear(f.seen)
		f.gen = 1
	}
	defer func() {
		if cap(f.met) > maxSeen {
			f.met = nil // a large variable's: not kept for the next walks
		} else {
			clear(f.met)
			f.met = f.met[:0]
		}
		if e := recover(); e != nil {
			// A walk that returns puts back every slot of words and ifaces
			// it used; one cut short by a panic may not have.
			clear(f.words)
			clear(f.ifaces)
			f.depth = 0
			if faulted(e) {
				ok = false // a value torn by a concurrent write
			}
		}
	}()
	f.walk(plan, p)
	return f.h, !f.bad
}

// walk mixes the value of plan at p into f.h.
//
//go:nocheckptr
func (f *fingerprinter) walk(plan *fpPlan, p unsafe.Pointer) {
	if f.bad {
		return
	}
	f.visits++
	if f.visits > maxVisits {
		f.bad = true
		return
	}
	switch plan.kind {
	case fpFlat:
		f.h = memHash(f.h, p, plan.size)
	case fpString:
		data, n := loadPtr(p), uintptr(load64(unsafe.Add(p, 8)))
		if data == nil || int(n) <= 0 {
			f.word(0)
			return
		}
		f.h = memHash(f.h, data, n)
	case fpSlice:
		data, n := loadPtr(p), int(load64(unsafe.Add(p, 8)))
		if data == nil {
			f.word(uint64(n) ^ 1<<63)
			return
		}
		f.word(uint64(n))
		f.elems(plan, data, n, plan.rawElems && n >= bigScalars)
	case fpArray:
		f.elems(plan, p, plan.n, plan.rawElems)
	case fpStruct:
		f.word(uint64(len(plan.fields)))
		for _, fd := range plan.fields {
			f.walk(fd.plan, unsafe.Add(p, fd.off))
		}
	case fpPointer:
		f.pointer(plan.elem, loadPtr(p), plan.elemFree)
	case fpIface:
		w := loadIface(p)
		f.iface(w, plan.typ.NumMethod() > 0)
	case fpMap:
		f.mapAt(plan, loadPtr(p))
	case fpFunc:
		f.fn(loadPtr(p))
	case fpWord:
		f.word(uint64(uintptr(loadPtr(p))))
	case fpAddr:
		f.word(uint64(uintptr(p)))
	case fpSkip:
	case fpOnce:
		if plan.off != ^uintptr(0) {
			f.word(uint64(atomic.LoadUint32((*uint32)(unsafe.Add(p, plan.off)))))
		}
	case fpSyncMap:
		f.syncMap((*sync.Map)(p))
	case fpAtomicValue:
		x := (*atomic.Value)(p).Load()
		f.boxed(x)
	case fpAtomicPtr:
		w := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Add(p, plan.off)))
		f.pointer(plan.elem, w, plan.elemFree)
	case fpAtomic32:
		f.word(uint64(atomic.LoadUint32((*uint32)(unsafe.Add(p, plan.off)))))
	case fpAtomic64:
		f.word(atomic.LoadUint64((*uint64)(unsafe.Add(p, plan.off))))
	case fpOSFile:
		file := loadPtr(p)
		f.word(uint64(uintptr(file)))
		f.word(uint64(uintptr(p)))
		if file != nil {
			f.walk(stringPlan, unsafe.Add(file, plan.off))
		}
	case fpServeMux:
		l := (*sync.RWMutex)(unsafe.Add(p, plan.off))
		locked := false
		for i := 0; i < 100 && !locked; i++ {
			if locked = l.TryRLock(); !locked {
				runtime.Gosched()
			}
		}
		if !locked {
			f.bad = true
			return
		}
		defer l.RUnlock()
		f.walk(plan.inner, p)
	default:
		f.bad = true
	}
}

// elems mixes n elements of plan's element type stored from p: as raw
// memory where the capture hashes them raw too.
func (f *fingerprinter) elems(plan *fpPlan, p unsafe.Pointer, n int, raw bool) {
	size := plan.elem.size
	if n < 0 || (size > 0 && uint64(n) > (1<<40)/uint64(size)) {
		f.bad = true
		return
	}
	if raw || plan.elem.kind == fpFlat {
		f.h = memHash(f.h, p, uintptr(n)*size)
		return
	}
	for i := 0; i < n && !f.bad; i++ {
		f.walk(plan.elem, unsafe.Add(p, uintptr(i)*size))
	}
}

// pointer mixes the pointer w and, once per walk, what it points to.
func (f *fingerprinter) pointer(elem *fpPlan, w unsafe.Pointer, free bool) {
	f.word(uint64(uintptr(w)))
	if w == nil {
		return
	}
	if !free {
		k := fpVisit{uintptr(w), uintptr(unsafe.Pointer(elem))}
		if f.seen[k] == f.gen {
			return
		}
		f.seen[k] = f.gen
		f.met = append(f.met, w)
	}
	f.walk(elem, w)
}

var (
	typeWordOfType    = typePointer(typeOfType)
	typeWordOfString  = typePointer(reflect.TypeOf(""))
	typeWordOfStrings = typePointer(reflect.TypeOf([]string(nil)))
	stringPlan        = &fpPlan{kind: fpString, typ: reflect.TypeOf(""), size: unsafe.Sizeof("")}
)

// iface mixes an interface's words and its dynamic value. methods says
// whether the first word is an itab rather than a type.
func (f *fingerprinter) iface(w [2]unsafe.Pointer, methods bool) {
	f.word(uint64(uintptr(w[0])))
	f.word(uint64(uintptr(w[1])))
	if w[0] == nil {
		return
	}
	typ := w[0]
	if methods {
		typ = loadPtr(unsafe.Add(w[0], unsafe.Sizeof(uintptr(0)))) // itab._type
	}
	if typ == typeWordOfType {
		return // a reflect.Type: read by name
	}
	plan := f.planOf(typ)
	if !plan.direct {
		f.walk(plan, w[1]) // the boxed value, in place
		return
	}
	// The data word is the value itself: walk it where it is kept.
	if f.depth >= len(f.words) {
		f.bad = true
		return
	}
	d := f.depth
	f.words[d] = w[1]
	f.depth++
	f.walk(plan, unsafe.Pointer(&f.words[d]))
	f.depth--
	f.words[d] = nil
}

// planOf returns the plan of the dynamic type typ. The last two types
// asked for are kept apart from f.plans: a map's or a sync.Map's entries
// most often hold one key type and one value type.
func (f *fingerprinter) planOf(typ unsafe.Pointer) *fpPlan {
	for i := range f.recent {
		if f.recent[i].typ == typ {
			return f.recent[i].plan
		}
	}
	plan := f.plans[typ]
	if plan == nil {
		var x any
		(*[2]unsafe.Pointer)(unsafe.Pointer(&x))[0] = typ
		plan = planFor(reflect.TypeOf(x))
		f.plans[typ] = plan
	}
	f.recent[1], f.recent[0] = f.recent[0], typedPlan{typ, plan}
	return plan
}

// boxed mixes x, an interface value held by the walk, as an any.
func (f *fingerprinter) boxed(x any) {
	if w := *(*[2]unsafe.Pointer)(unsafe.Pointer(&x)); w[0] == typeWordOfString {
		// A boxed string, what most sync.Map keys and values are: what
		// iface mixes for it, without looking up its plan.
		f.word(uint64(uintptr(w[0])))
		f.word(uint64(uintptr(w[1])))
		f.walk(stringPlan, w[1])
		return
	}
	if f.depth >= len(f.ifaces) {
		f.bad = true
		return
	}
	d := f.depth
	f.ifaces[d] = *(*[2]unsafe.Pointer)(unsafe.Pointer(&x))
	f.depth++
	f.iface(f.ifaces[d], false)
	f.depth--
	f.ifaces[d] = [2]unsafe.Pointer{}
}

// fn mixes a func value: its closure and code, and for a closure of
// sync.OnceFunc, OnceValue or OnceValues, whether it ran (onceClosure).
func (f *fingerprinter) fn(closure unsafe.Pointer) {
	f.word(uint64(uintptr(closure)))
	if closure == nil {
		return
	}
	code := uintptr(loadPtr(closure))
	f.word(uint64(code))
	once, known := onceFns.Load(code)
	if !known {
		is := false
		if fn := runtime.FuncForPC(code); fn != nil {
			name := fn.Name()
			is = strings.Contains(name, "OnceFunc.func") || strings.Contains(name, "OnceValue[") || strings.Contains(name, "OnceValues[")
		}
		onceFns.Store(code, is)
		once = is
	}
	if once.(bool) {
		onceClosureCheck.Do(checkOnceClosure)
		if onceClosureOK {
			f.word(uint64(load32(unsafe.Add(onceClosureData(closure), onceClosureDone))))
		}
	}
}

// mapAt mixes the map at m: its entries, read through the map's layout as
// readMap reads them, combined independently of their order.
//
//go:nocheckptr
func (f *fingerprinter) mapAt(plan *fpPlan, m unsafe.Pointer) {
	f.word(uint64(uintptr(m)))
	if m == nil {
		return
	}
	k := fpVisit{uintptr(m), uintptr(unsafe.Pointer(plan))}
	if f.seen[k] == f.gen {
		return
	}
	f.seen[k] = f.gen
	f.met = append(f.met, m)
	if plan.cacheMap {
		return
	}
	h := readHeader(m)
	if h.writing != 0 {
		f.bad = true
		return
	}
	l := plan.layout
	var sum, count uint64
	group := func(g unsafe.Pointer) {
		ctrl := load64(g)
		for i := uintptr(0); i < mapGroupSlots && !f.bad; i++ {
			if byte(ctrl>>(8*i))&ctrlFullMask != 0 {
				continue
			}
			count++
			kp := unsafe.Add(g, l.keysOff+i*l.keyStride)
			ep := unsafe.Add(g, l.elemsOff+i*l.elemStride)
			if l.indirectKey {
				kp = loadPtr(kp)
			}
			if l.indirectElem {
				ep = loadPtr(ep)
			}
			if kp == nil || ep == nil {
				f.bad = true
				return
			}
			if plan.ifaceKey && f.typeKey(kp, plan.key) {
				continue // cachedEntry
			}
			outer := f.h
			f.h = fpK1
			f.walk(plan.key, kp)
			f.walk(plan.elem, ep)
			sum += f.h
			f.h = outer
		}
	}
	switch {
	case h.dir == nil:
	case h.dirLen == 0:
		group(h.dir)
	default:
		if h.dirLen < 0 || h.dirLen > 1<<24 || h.dirLen&(h.dirLen-1) != 0 {
			f.bad = true
			return
		}
		var prev unsafe.Pointer
		for i := 0; i < h.dirLen && !f.bad; i++ {
			tab := loadPtr(unsafe.Add(h.dir, uintptr(i)*unsafe.Sizeof(uintptr(0))))
			if tab == nil {
				f.bad = true
				return
			}
			if tab == prev {
				continue // a table fills consecutive directory entries
			}
			prev = tab
			data, mask := loadPtr(unsafe.Add(tab, offTableGroups)), load64(unsafe.Add(tab, offTableMask))
			if data == nil || mask >= 1<<32 || (mask+1)&mask != 0 {
				f.bad = true
				return
			}
			for g := uint64(0); g <= mask && !f.bad; g++ {
				group(unsafe.Add(data, uintptr(g)*l.size))
			}
		}
	}
	if count < h.used || readHeader(m) != h {
		// Fewer full slots than the map counts (a table met twice is
		// fine: more), or written while read.
		f.bad = true
	}
	f.word(count)
	f.word(sum)
}

// typeKey reports whether the interface key at p holds a reflect.Type.
func (f *fingerprinter) typeKey(p unsafe.Pointer, plan *fpPlan) bool {
	w := loadIface(p)
	if w[0] == nil {
		return false
	}
	typ := w[0]
	if plan.typ.NumMethod() > 0 {
		typ = loadPtr(unsafe.Add(w[0], unsafe.Sizeof(uintptr(0))))
	}
	return typ == typeWordOfType
}

// syncMap mixes a sync.Map's entries, read through Range as the capture
// reads them, independently of their order.
func (f *fingerprinter) syncMap(m *sync.Map) {
	if memo := syncMapMemos.take(m); memo != nil && memo.holds(m) {
		f.word(memo.count)
		f.word(memo.sum)
		syncMapMemos.put(m, memo)
		return
	}
	var sum, count uint64
	memo := &syncMapMemo{}
	slots, inner, trieOK := trieSlots(m)
	m.Range(func(k, v any) bool {
		if cachedAny(k, v) {
			memo = nil
			return true // cachedEntry
		}
		outer := f.h
		f.h = fpK1
		f.boxed(k)
		f.boxed(v)
		sum += f.h
		f.h = outer
		count++
		if memo != nil && boxedString(k) && (boxedString(v) || boxedStrings(v)) {
			memo.boxes = append(memo.boxes, k, v)
			if ss, ok := v.([]string); ok {
				memo.elems = append(memo.elems, cloneStrings(ss))
			}
		} else {
			memo = nil
		}
		return !f.bad
	})
	f.word(count)
	f.word(sum)
	if memo != nil && !f.bad && count >= minMemoEntries {
		memo.count, memo.sum = count, sum
		// The slots stand for what the walk met only when they were the
		// same before and after it.
		if trieOK && (len(memo.elems) == 0 || appendOnly.has(m)) && sameSlots(m, slots, inner) {
			memo.slots, memo.inner = slots, inner
		}
		syncMapMemos.put(m, memo)
	}
}

// appendOnly holds the addresses of the variables of appendOnlyValues in
// scope (noteAppendOnly).
var appendOnly = addressSet{m: map[uintptr]bool{}}

// noteAppendOnly adds v, the variable named name, to appendOnly when it is
// one of appendOnlyValues.
func noteAppendOnly(name string, v reflect.Value) {
	if v.CanAddr() && v.Type() == reflect.TypeFor[sync.Map]() && appendOnlyVariable(name) {
		appendOnly.add((*sync.Map)(v.Addr().UnsafePointer()))
	}
}

type addressSet struct {
	sync.Mutex
	m map[uintptr]bool
}

func (s *addressSet) add(m *sync.Map) {
	s.Lock()
	defer s.Unlock()
	s.m[uintptr(unsafe.Pointer(m))] = true
}

func (s *addressSet) has(m *sync.Map) bool {
	s.Lock()
	defer s.Unlock()
	return s.m[uintptr(unsafe.Pointer(m))]
}

// A sync.Map whose every key is a string and every value a string or a
// []string (mime's tables of types by extension are the first, 1,400
// entries each, its table of extensions by type the second, all three
// fingerprinted twice per check) keeps a memo of its last walk: the boxes it
// met, in order, a copy of each []string's elements, and the count and sum
// they mixed. A walk that meets the very same boxes in the same order, and
// the very same strings in each []string, would mix the same, and mixes the
// memo's instead of hashing every string again. A boxed string never
// changes, nor does a boxed slice's header: only its elements, which are
// compared. The memo holds the boxes and the strings, so that none is freed
// and another made at its address while the memo stands. It is keyed by the
// map's address alone: a map at that address holding those boxes in that
// order holds those strings.
type syncMapMemo struct {
	boxes      []any      // key, value, key, value…
	elems      [][]string // the elements of each []string value, in order
	count, sum uint64
	// slots and inner are the map's hash-trie as the walk met it (see
	// trie.go), for a map of strings only: when its slots are the same,
	// so are its entries, and they need not be walked.
	slots []unsafe.Pointer
	inner []bool
}

// minMemoEntries is the fewest entries a sync.Map must have for its walk
// to be kept; maxMemos bounds the maps kept.
const (
	minMemoEntries = 64
	maxMemos       = 256
)

var syncMapMemos = memoTable{m: map[uintptr]*syncMapMemo{}}

type memoTable struct {
	sync.Mutex
	m map[uintptr]*syncMapMemo
}

// take removes and returns the memo of m, so that a walk of m made at the
// same time on another goroutine builds its own.
func (t *memoTable) take(m *sync.Map) *syncMapMemo {
	t.Lock()
	defer t.Unlock()
	memo := t.m[uintptr(unsafe.Pointer(m))]
	delete(t.m, uintptr(unsafe.Pointer(m)))
	return memo
}

func (t *memoTable) put(m *sync.Map, memo *syncMapMemo) {
	t.Lock()
	defer t.Unlock()
	if len(t.m) < maxMemos {
		t.m[uintptr(unsafe.Pointer(m))] = memo
	}
}

// holds reports whether m holds exactly the memo's boxes, in its order,
// and its []string values exactly the memo's strings.
func (memo *syncMapMemo) holds(m *sync.Map) bool {
	if memo.slots != nil {
		return sameSlots(m, memo.slots, memo.inner)
	}
	i, j, same := 0, 0, true
	m.Range(func(k, v any) bool {
		same = i+1 < len(memo.boxes) && sameBox(k, memo.boxes[i]) && sameBox(v, memo.boxes[i+1])
		i += 2
		if same && boxedStrings(v) {
			same = j < len(memo.elems) && sameStrings(*(*[]string)((*(*[2]unsafe.Pointer)(unsafe.Pointer(&v)))[1]), memo.elems[j])
			j++
		}
		return same
	})
	return same && i == len(memo.boxes) && j == len(memo.elems)
}

// cloneStrings copies ss, read as sameStrings reads it.
//
//go:norace
func cloneStrings(ss []string) []string {
	out := make([]string, len(ss))
	for i := range ss {
		out[i] = ss[i]
	}
	return out
}

// sameStrings reports whether a and b hold the very same strings: the same
// bytes at the same addresses. Read without the race detector's
// instrumentation, like every other part of a fingerprint: a writer may be
// changing the elements.
//
//go:norace
func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if unsafe.StringData(a[i]) != unsafe.StringData(b[i]) || len(a[i]) != len(b[i]) {
			return false
		}
	}
	return true
}

// sameBox reports whether a and b are the same interface words: the same
// type and the same box.
func sameBox(a, b any) bool {
	return *(*[2]unsafe.Pointer)(unsafe.Pointer(&a)) == *(*[2]unsafe.Pointer)(unsafe.Pointer(&b))
}

// boxedString reports whether x holds a string.
func boxedString(x any) bool {
	return (*(*[2]unsafe.Pointer)(unsafe.Pointer(&x)))[0] == typeWordOfString
}

// boxedStrings reports whether x holds a []string.
func boxedStrings(x any) bool {
	return (*(*[2]unsafe.Pointer)(unsafe.Pointer(&x)))[0] == typeWordOfStrings
}

// reuse is what the last capture of each variable was, and the
// fingerprint of the memory it was read from.
var reuse = struct {
	sync.Mutex
	last map[reuseKey]reused
}{last: map[reuseKey]reused{}}

// maxReused bounds the captures kept for reuse.
var maxReused = 1 << 16

type reuseKey struct {
	addr uintptr
	typ  unsafe.Pointer
}

type reused struct {
	fp    uint64
	state *node
}

// captureReusing captures variable v, named name, reusing its last capture
// when its fingerprint has not changed since.
func (c *capturer) captureReusing(name string, v reflect.Value) *node {
	if !v.CanAddr() || variableRuleFor(name) != nil {
		return c.capture(name, v)
	}
	key := reuseKey{v.UnsafeAddr(), typePointer(v.Type())}
	return c.reusing(name, v, planFor(v.Type()), keyedSlot(key))
}

// captureScoped is captureReusing for a variable in scope, whose plan and
// last capture it keeps (reuseSlot): no lock is shared by the variables
// of a snapshot, which two goroutines take (captureAll).
func (c *capturer) captureScoped(sc *scoped) *node {
	if sc.reuse == nil {
		return c.capture(sc.Name, sc.val)
	}
	return c.reusing(sc.Name, sc.val, sc.reuse.plan, sc.reuse)
}

// reusableVariable returns the slot in which a variable in scope keeps its
// last capture, or nil when its capture is never reused.
func reusableVariable(name string, v reflect.Value) *reuseSlot {
	if !v.CanAddr() || variableRuleFor(name) != nil {
		return nil
	}
	return &reuseSlot{plan: planFor(v.Type())}
}

// reuseSlot holds a variable's plan and last capture.
type reuseSlot struct {
	plan *fpPlan
	last atomic.Pointer[reused]
}

func (s *reuseSlot) load() (reused, bool) {
	if r := s.last.Load(); r != nil {
		return *r, true
	}
	return reused{}, false
}

func (s *reuseSlot) store(r reused) { s.last.Store(&r) }

// keyedSlot is the entry of reuse for a variable found by address and type.
type keyedSlot reuseKey

func (k keyedSlot) load() (reused, bool) {
	reuse.Lock()
	defer reuse.Unlock()
	last, found := reuse.last[reuseKey(k)]
	return last, found
}

func (k keyedSlot) store(r reused) {
	reuse.Lock()
	defer reuse.Unlock()
	if len(reuse.last) >= maxReused {
		// Watching(&x) of short-lived variables adds an entry each:
		// start over rather than keep them all.
		clear(reuse.last)
	}
	reuse.last[reuseKey(k)] = r
}

// reusing captures v by plan, reusing the capture slot holds when the
// fingerprint is the one it was taken at.
func (c *capturer) reusing(name string, v reflect.Value, plan *fpPlan, slot interface {
	load() (reused, bool)
	store(reused)
}) *node {
	if c.fp == nil {
		c.fp = fingerprinters.Get().(*fingerprinter)
	}
	p := unsafe.Pointer(v.UnsafeAddr())
	h, ok := c.fp.variableOf(plan, p)
	if ok {
		if last, found := slot.load(); found && last.fp == h {
			return last.state
		}
	}
	c.spoiled = false
	n := c.capture(name, v)
	if !ok || c.spoiled {
		return n
	}
	// Kept only when nothing changed the variable while it was captured.
	if again, ok := c.fp.variableOf(plan, p); ok && again == h {
		slot.store(reused{fp: h, state: n})
	}
	return n
}
