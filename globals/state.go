package globals

import (
	"fmt"
	"hash/maphash"
	"io/fs"
	"math"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// node is the captured state of one value: a hash of everything below it,
// and the detail needed to say what changed.
type node struct {
	kind  nodeKind
	zero  bool   // the value is its type's zero value
	lazy  bool   // set from zero is lazy initialisation (a variable rule)
	str   bool   // leaf: text is a string value, quoted when shown
	hash  uint64 // of everything below
	text  string // leaf: the value; iface: the dynamic type; ptr: the pointer's type; unjudged: why
	names []string
	kids  []*node
	addr  uintptr // ptr: the address pointed to
	// map: names are the keys, exact (unquoted strings when rawKeys)
	rawKeys bool
	ref     bool // ptr: met before on this graph; its state is captured there
}

type nodeKind uint8

const (
	leafNode     nodeKind = iota
	structNode            // names are field names
	seqNode               // slices and arrays; kids by index
	mapNode               // names are sorted keys
	ifaceNode             // text is the dynamic type, one kid
	ptrNode               // zero or one kid
	onceNode              // a sync.Once: zero means not done
	unjudgedNode          // could not be read consistently; text says why
)

var seed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(seed, s) }

func mix(h, x uint64) uint64 {
	h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	return h
}

func hex(x uint64) string { return strconv.FormatUint(x, 16) }

// capturer walks the state reachable from one variable.
type capturer struct {
	seen  map[visit]bool // pointers and maps on the current variable's graph
	nodes int
	slab  []node
	kids  []*node // slab for one-element kid lists
	marks []visit // what seen holds, in the order it was met
	// spoiled is set when the capture read something inconsistently (a
	// map written under it) or not in full (maxNodes): not to be reused.
	spoiled bool
	fp      *fingerprinter
}

// mark remembers that the pointer or map key was met on this graph.
func (c *capturer) mark(key visit) {
	c.seen[key] = true
	c.marks = append(c.marks, key)
}

type visit struct {
	addr uintptr
	typ  reflect.Type
}

// maxNodes bounds the values read from one variable.
const maxNodes = 4 << 20

// bigScalars is the length from which slices and arrays of pointer-free
// elements are captured as one hash instead of element by element.
const bigScalars = 64

var (
	typeOfType     = reflect.TypeOf(reflect.TypeOf(0))
	typeOfReflectT = reflect.TypeOf((*reflect.Type)(nil)).Elem()
)

func newCapturer() *capturer { return &capturer{seen: map[visit]bool{}} }

// capture reads variable v, named name. Each variable's graph is its own:
// a pointer met in another variable is read again.
func (c *capturer) capture(name string, v reflect.Value) *node {
	clear(c.seen)
	c.marks = c.marks[:0]
	c.nodes = 0
	if r := variableRuleFor(name); r != nil {
		return r.read(c, v)
	}
	return c.value(v)
}

// guarded runs capture, and turns a fault in reading memory into a node
// that is judged as nothing and says why: a value torn by a concurrent
// write, or a variable whose debug info places it over memory that is not
// mapped (runtime.mheap_'s arena index, in scope only when asked for), may
// point nowhere, and a check must never end the process it checks. take
// makes faults panic (debug.SetPanicOnFault); the next capture resets the
// capturer's walk.
func (c *capturer) guarded(capture func(*capturer) *node) (n *node) {
	defer func() {
		if e := recover(); faulted(e) {
			c.spoiled = true
			why := strings.TrimPrefix(fmt.Sprint(e), "runtime error: ")
			n = &node{kind: unjudgedNode, text: "a read of it faulted (torn by a concurrent write, or over memory that is not mapped): " + why, hash: hashString("unjudged")}
		}
	}()
	return capture(c)
}

// captureParts captures a struct read field by field.
func (c *capturer) captureParts(parts []part) *node {
	clear(c.seen)
	c.marks = c.marks[:0]
	c.nodes = 0
	return c.parts(parts)
}

// nodeSlab is how many nodes are allocated at once: a snapshot makes tens
// of thousands, and one allocation each would dominate its cost when the
// memory profiler records every allocation (a check nested in an
// allocation check).
const nodeSlab = 256

// node returns a new node from the current slab.
func (c *capturer) node() *node {
	if len(c.slab) == 0 {
		c.slab = make([]node, nodeSlab)
	}
	n := &c.slab[0]
	c.slab = c.slab[1:]
	return n
}

func (c *capturer) parts(parts []part) *node {
	n := c.make(node{kind: structNode, zero: true, hash: hashString("struct")})
	for _, p := range parts {
		var kid *node
		if p.value.IsValid() {
			kid = c.value(p.value)
		} else {
			kid = c.parts(p.parts)
		}
		n.names = append(n.names, p.name)
		n.kids = append(n.kids, kid)
		n.zero = n.zero && kid.zero
		n.hash = mix(n.hash, kid.hash)
	}
	return n
}

func leaf(text string) *node {
	return &node{kind: leafNode, text: text, hash: hashString(text)}
}

// leaf and make are leaf and a node literal, from the capturer's slab.
func (c *capturer) leaf(text string) *node {
	return c.make(node{kind: leafNode, text: text, hash: hashString(text)})
}

func (c *capturer) make(n node) *node {
	p := c.node()
	*p = n
	return p
}

func (c *capturer) value(v reflect.Value) *node {
	c.nodes++
	if c.nodes > maxNodes {
		c.spoiled = true
		return c.leaf("(not read: more than " + strconv.Itoa(maxNodes) + " values)")
	}
	t := v.Type()
	if r := typeRuleFor(t); r != nil {
		return r.read(c, v)
	}
	switch v.Kind() {
	case reflect.Bool:
		b := readBool(v)
		n := c.leaf(strconv.FormatBool(b))
		n.zero = !b
		return n
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := readInt(v)
		n := c.leaf(formatNamed(t, i, strconv.FormatInt(i, 10)))
		n.zero = i == 0
		return n
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := readUint(v)
		n := c.leaf(formatNamed(t, int64(u), strconv.FormatUint(u, 10)))
		n.zero = u == 0
		return n
	case reflect.Float32, reflect.Float64:
		f := readFloat(v)
		n := c.leaf(strconv.FormatFloat(f, 'g', -1, 64))
		n.zero = math.Float64bits(f) == 0
		return n
	case reflect.Complex64, reflect.Complex128:
		x := readComplex(v)
		n := c.leaf(strconv.FormatComplex(x, 'g', -1, 128))
		n.zero = x == 0
		return n
	case reflect.String:
		s := readString(v)
		// Kept unquoted until shown.
		return c.make(node{kind: leafNode, str: true, text: s, hash: hashString(s), zero: s == ""})
	case reflect.Chan, reflect.UnsafePointer:
		return identity(v)
	case reflect.Func:
		pc := funcPC(v)
		if pc == 0 {
			return c.make(node{kind: leafNode, zero: true, text: "nil", hash: hashString("nil")})
		}
		name := "func"
		if f := runtime.FuncForPC(pc); f != nil {
			name = f.Name()
		}
		if n, ok := onceClosure(v, name); ok {
			return n
		}
		return c.leaf(name)
	case reflect.Pointer:
		return c.pointer(v)
	case reflect.Interface:
		e, ok := readInterface(v)
		if !ok {
			return c.make(node{kind: ifaceNode, zero: true, text: "nil", hash: hashString("nil")})
		}
		if e.Type() == typeOfType {
			return c.leaf(typeString(e))
		}
		kid := c.value(e)
		dyn := e.Type().String()
		return c.make(node{kind: ifaceNode, text: dyn, kids: c.one(kid), hash: mix(hashString(dyn), kid.hash)})
	case reflect.Struct:
		return c.structValue(v, nil)
	case reflect.Array:
		if !v.CanAddr() {
			return identity(v)
		}
		return c.sequence(t, unsafe.Pointer(v.UnsafeAddr()), v.Len(), true)
	case reflect.Slice:
		// An empty slice reads as nil, whatever its spare capacity: a buffer
		// truncated after use (os/signal.Stop's handlers.stopping) has not
		// changed what the program sees through it.
		p, l := readSlice(v)
		if l == 0 {
			return c.make(node{kind: seqNode, zero: true, hash: hashString("nil slice")})
		}
		return c.sequence(t, p, l, false)
	case reflect.Map:
		return c.mapValue(v)
	}
	return c.leaf("(" + v.Kind().String() + ")")
}

// structValue reads the fields of a struct that keep returns true for
// (every field when keep is nil).
func (c *capturer) structValue(v reflect.Value, keep func(reflect.StructField) bool) *node {
	t := v.Type()
	f := factsOf(t)
	n := c.make(node{kind: structNode, zero: true, hash: f.hash})
	if keep == nil {
		n.names = f.fields
	}
	n.kids = make([]*node, 0, len(f.fields))
	for i := range f.fields {
		if keep != nil {
			if !keep(t.Field(i)) {
				continue
			}
			n.names = append(n.names, f.fields[i])
		}
		kid := c.value(v.Field(i))
		n.kids = append(n.kids, kid)
		n.zero = n.zero && kid.zero
		n.hash = mix(n.hash, kid.hash)
	}
	return n
}

// facts are what a capture needs of a struct type, worked out once.
type facts struct {
	fields []string
	hash   uint64 // of the type's name
}

var factsBy = newTypeCache[*facts]()

func factsOf(t reflect.Type) *facts {
	return factsBy.of(t, func(t reflect.Type) *facts {
		f := &facts{hash: hashString(t.String()), fields: make([]string, t.NumField())}
		for i := range f.fields {
			f.fields[i] = t.Field(i).Name
		}
		return f
	})
}

// serveMux captures an http.ServeMux as what it routes: its patterns, each
// with its handler, rather than its routing tree and index, whose layout
// says nothing to a reader. A registration is then reported as
// `net/http.DefaultServeMux.patterns: added "/hello": main.hello`.
func serveMux(v reflect.Value) *node {
	// Its routing tree is read the way the mux reads it: under its read
	// lock, which registrations take for writing.
	if mu := v.FieldByName("mu"); v.CanAddr() && mu.IsValid() && isRWMutex(mu.Type()) {
		l := (*sync.RWMutex)(unsafe.Pointer(mu.UnsafeAddr()))
		locked := false
		for i := 0; i < 100 && !locked; i++ {
			if locked = l.TryRLock(); !locked {
				runtime.Gosched()
			}
		}
		if !locked {
			return &node{kind: unjudgedNode, text: "registrations under way while being read", hash: hashString("unjudged")}
		}
		defer l.RUnlock()
	}
	routes := map[string]string{}
	seen := map[uintptr]bool{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if v.IsNil() || seen[v.Pointer()] {
				return
			}
			seen[v.Pointer()] = true
			walk(v.Elem())
		case reflect.Struct:
			if _, name := typeName(v.Type()); name == "routingNode" {
				if p := v.FieldByName("pattern"); p.IsValid() && p.Kind() == reflect.Pointer && !p.IsNil() {
					if str := p.Elem().FieldByName("str"); str.IsValid() && str.Kind() == reflect.String {
						routes[str.String()] = handlerName(v.FieldByName("handler"))
					}
				}
			}
			for i := range v.NumField() {
				walk(v.Field(i))
			}
		case reflect.Slice, reflect.Array:
			for i := range v.Len() {
				walk(v.Index(i))
			}
		case reflect.Map:
			iter := v.MapRange()
			for iter.Next() {
				walk(iter.Value())
			}
		}
	}
	if tree := v.FieldByName("tree"); tree.IsValid() {
		walk(tree)
	}
	entries := make([]entry, 0, len(routes))
	for pattern, handler := range routes {
		entries = append(entries, entry{key: pattern, state: leaf(handler)})
	}
	c := &capturer{}
	n := &node{kind: structNode, names: []string{"patterns"}, kids: []*node{c.mapNode("patterns", entries, true, true)}}
	n.hash = mix(hashString("http.ServeMux"), n.kids[0].hash)
	n.zero = len(routes) == 0
	return n
}

// serveMux is serveMux for the capturer, which must not reuse a read the
// mux's registrations spoiled.
func (c *capturer) serveMux(v reflect.Value) *node {
	n := serveMux(v)
	if n.kind == unjudgedNode {
		c.spoiled = true
	}
	return n
}

// isRWMutex reports whether t is sync.RWMutex, or its layout built from
// DWARF (see typeName).
func isRWMutex(t reflect.Type) bool {
	pkg, name := typeName(t)
	return t == reflect.TypeOf(sync.RWMutex{}) || pkg == "sync" && name == "RWMutex" && t.Size() == reflect.TypeOf(sync.RWMutex{}).Size()
}

// handlerName says what an http.Handler interface value is: the function
// of a HandlerFunc, the type of anything else.
func handlerName(h reflect.Value) string {
	if !h.IsValid() || h.IsNil() {
		return "nil"
	}
	e := h.Elem()
	if e.Kind() == reflect.Func {
		if f := runtime.FuncForPC(e.Pointer()); f != nil {
			return f.Name()
		}
	}
	return e.Type().String()
}

// identity captures a value by its address only.
func identity(v reflect.Value) *node {
	var p uintptr
	switch v.Kind() {
	case reflect.Chan, reflect.UnsafePointer, reflect.Pointer, reflect.Map:
		p = uintptr(readPointer(v))
	case reflect.Func:
		p = funcPC(v)
	default:
		if v.CanAddr() {
			p = v.UnsafeAddr()
		}
	}
	n := leaf(v.Type().String() + "(0x" + hex(uint64(p)) + ")")
	n.zero = p == 0
	if p == 0 {
		n.text = "nil"
	}
	return n
}

func typeString(v reflect.Value) string {
	if !v.CanInterface() {
		return "type"
	}
	if t, ok := v.Interface().(reflect.Type); ok && t != nil {
		return "type " + t.String()
	}
	return "type"
}

func (c *capturer) pointer(v reflect.Value) *node {
	p := readPointer(v)
	if p == nil {
		return c.make(node{kind: ptrNode, zero: true, text: "nil", hash: hashString("nil")})
	}
	key := visit{uintptr(p), v.Type()}
	// What a pointer to pointer-free data points to is cheap to read twice
	// and cannot lead back: only other pointers are remembered.
	track := !pointerFree(v.Type().Elem())
	if track {
		if c.seen[key] {
			// A cycle or a pointer met before on this variable's graph: its
			// state is captured where it was first met.
			return c.make(node{kind: ptrNode, ref: true, addr: key.addr, text: v.Type().String(), hash: mix(hashString("ref"), uint64(key.addr))})
		}
		c.mark(key)
	}
	kid := c.value(elemAt(v.Type().Elem(), p))
	return c.make(node{kind: ptrNode, addr: key.addr, text: v.Type().String(), kids: c.one(kid), hash: mix(hashString("&"), kid.hash)})
}

// one returns a one-element slice holding kid, from a slab.
func (c *capturer) one(kid *node) []*node {
	if len(c.kids) == 0 {
		c.kids = make([]*node, nodeSlab)
	}
	s := c.kids[:1:1]
	s[0] = kid
	c.kids = c.kids[1:]
	return s
}

// sequence reads l elements of an array or slice of type t stored at p.
func (c *capturer) sequence(t reflect.Type, p unsafe.Pointer, l int, array bool) *node {
	n := c.make(node{kind: seqNode, hash: hashString(t.String()), zero: true})
	et := t.Elem()
	if l >= bigScalars && pointerFree(et) {
		b := make([]byte, uintptr(l)*et.Size())
		copyNoRace(b, p)
		h := maphash.Bytes(seed, b)
		zero := true
		for _, x := range b {
			if x != 0 {
				zero = false
				break
			}
		}
		return c.make(node{kind: leafNode, zero: zero && array, hash: h,
			text: "[" + strconv.Itoa(l) + "]" + et.String() + " (content hash " + hex(h>>40) + ")"})
	}
	n.kids = make([]*node, l)
	for i := 0; i < l; i++ {
		kid := c.value(elemAt(et, unsafe.Add(p, uintptr(i)*et.Size())))
		n.kids[i] = kid
		n.zero = n.zero && kid.zero
		n.hash = mix(n.hash, kid.hash)
	}
	if !array {
		n.zero = false // an empty non-nil slice is not nil
	}
	return n
}

func pointerFree(t reflect.Type) bool { return scalarTree(t, nil) }

// scalarTree reports whether t is made of scalars only (numbers and bools,
// in arrays and structs), with no type along the way that stop reports
// true for.
func scalarTree(t reflect.Type, stop func(reflect.Type) bool) bool {
	if stop != nil && stop(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return scalarTree(t.Elem(), stop)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !scalarTree(t.Field(i).Type, stop) {
				return false
			}
		}
		return true
	}
	return false
}

func (c *capturer) mapValue(v reflect.Value) *node {
	t := v.Type()
	m := readPointer(v)
	if m == nil {
		return &node{kind: mapNode, zero: true, hash: hashString("nil map")}
	}
	key := visit{uintptr(m), t}
	if c.seen[key] {
		return leaf("(" + t.String() + " seen above)")
	}
	c.mark(key)
	if isCacheMap(t) {
		return &node{kind: leafNode, zero: true, text: "(cache)"}
	}
	rawKeys := t.Key().Kind() == reflect.String && t.Key().PkgPath() == ""
	var entries []entry
	start := len(c.marks)
	visitEntries := func(refs []slotRef) {
		// Again after a read the map's writer spoiled: forget what that
		// read met, or it would show as met elsewhere.
		for _, k := range c.marks[start:] {
			delete(c.seen, k)
		}
		c.marks = c.marks[:start]
		entries = make([]entry, 0, len(refs))
		for _, r := range refs {
			c.addEntry(&entries, r.key, r.elem, rawKeys)
		}
	}
	known, err := readMap(v, visitEntries)
	if err != nil {
		c.spoiled = true
		return &node{kind: unjudgedNode, text: err.Error(), hash: hashString("unjudged")}
	}
	if !known {
		// A Go release whose map layout is not known: the runtime's
		// iterator, on a reference without the read-only mark of
		// unexported fields.
		mv := reflect.NewAt(t, unsafe.Pointer(&m)).Elem()
		k, val := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
		for it := mv.MapRange(); it.Next(); {
			k.SetIterKey(it)
			val.SetIterValue(it)
			c.addEntry(&entries, k, val, rawKeys)
		}
	}
	return c.mapNode(t.String(), entries, rawKeys, !plainValues(t.Elem()))
}

func (c *capturer) addEntry(entries *[]entry, k, val reflect.Value, rawKeys bool) {
	if cachedEntry(k, val) {
		return
	}
	var ks string
	if rawKeys {
		ks = readString(k)
	} else {
		ks = exactKey(k)
	}
	*entries = append(*entries, entry{key: ks, state: c.value(val)})
}

// plainValues reports whether values of t hold no pointers other than
// strings: their capture does not depend on the order in which shared
// pointers are met, so a map of them need not be walked in key order.
func plainValues(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return true
	case reflect.Pointer:
		return pointerFree(t.Elem()) // not remembered by the capturer
	case reflect.Array:
		return plainValues(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !plainValues(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return pointerFree(t)
}

type entry struct {
	key   string
	state *node
}

// mapNode builds a map's node, its hash independent of the entries' order.
// The entries are captured in key order when sorted is set (values with
// pointers, so that a pointer met twice is captured in full at the same
// place each time). Keys are exact: with rawKeys, strings kept unquoted
// until they are shown; otherwise exactKey's text.
func (c *capturer) mapNode(typ string, entries []entry, rawKeys, sorted bool) *node {
	if sorted {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	}
	n := c.make(node{kind: mapNode, hash: hashString(typ), names: make([]string, len(entries)), kids: make([]*node, len(entries)), rawKeys: rawKeys})
	var sum uint64
	for i, e := range entries {
		n.names[i], n.kids[i] = e.key, e.state
		sum += mix(hashString(e.key), e.state.hash)
	}
	n.hash = mix(n.hash, sum)
	n.zero = len(entries) == 0
	return n
}

// keyText is how the i-th key of a map node is shown: a long key loses
// its middle, so that keys that differ at either end still look different.
func (n *node) keyText(i int) string {
	k := n.names[i]
	if n.rawKeys {
		k = strconv.Quote(k)
	}
	if len(k) <= 80 {
		return k
	}
	tail := k[len(k)-24:]
	for len(tail) > 0 && tail[0]&0xC0 == 0x80 {
		tail = tail[1:]
	}
	return cutUTF8(k, 52) + "…" + tail
}

// exactKeyText is the i-th key in full, as Ignoring names it.
func (n *node) exactKeyText(i int) string {
	if n.rawKeys {
		return strconv.Quote(n.names[i])
	}
	return n.names[i]
}

func (c *capturer) syncMap(v reflect.Value) *node {
	if !v.CanAddr() {
		return identity(v)
	}
	m := (*sync.Map)(unsafe.Pointer(v.UnsafeAddr()))
	var entries []entry
	strKeys, plain := true, true
	m.Range(func(k, val any) bool {
		if cachedAny(k, val) {
			return true
		}
		key, isString := k.(string)
		if !isString {
			key = exactKey(reflect.ValueOf(k))
			if strKeys {
				// Quote the raw string keys kept so far.
				for i := range entries {
					entries[i].key = strconv.Quote(entries[i].key)
				}
				strKeys = false
			}
		} else if !strKeys {
			key = strconv.Quote(key)
		}
		if plain && val != nil && !plainValues(reflect.TypeOf(val)) {
			plain = false
		}
		entries = append(entries, entry{key: key, state: c.anyValue(val)})
		return true
	})
	return c.mapNode("sync.Map", entries, strKeys, !plain)
}

// anyValue captures x as a value of type any, reading a boxed value in
// place.
func (c *capturer) anyValue(x any) *node {
	if x == nil {
		return c.make(node{kind: ifaceNode, zero: true, text: "nil", hash: hashString("nil")})
	}
	t := reflect.TypeOf(x)
	var e reflect.Value
	if directIface(t) {
		e = reflect.ValueOf(x)
	} else {
		e = reflect.NewAt(t, (*[2]unsafe.Pointer)(unsafe.Pointer(&x))[1]).Elem()
	}
	if t == typeOfType {
		return leaf(typeString(e))
	}
	kid := c.value(e)
	dyn := t.String()
	return c.make(node{kind: ifaceNode, text: dyn, kids: c.one(kid), hash: mix(hashString(dyn), kid.hash)})
}

func onceState(v reflect.Value) *node {
	done := false
	if f := v.FieldByName("done"); f.IsValid() && v.CanAddr() {
		done = atomic.LoadUint32((*uint32)(unsafe.Pointer(f.UnsafeAddr()))) != 0
	}
	n := &node{kind: onceNode, zero: !done, text: "not done"}
	if done {
		n.text = "done"
	}
	n.hash = hashString(n.text)
	return n
}

// atomic reads the sync/atomic types with atomic loads, and follows the
// value of atomic.Pointer and atomic.Value.
func (c *capturer) atomic(v reflect.Value) *node {
	if !v.CanAddr() {
		return c.structValue(v, nil)
	}
	t := v.Type()
	p := unsafe.Pointer(v.UnsafeAddr())
	switch name := t.Name(); {
	case name == "Value":
		x := (*atomic.Value)(p).Load()
		if cacheOnly(reflect.ValueOf(x)) {
			x = nil
		}
		return c.value(reflect.ValueOf(&x).Elem())
	case strings.HasPrefix(name, "Pointer[") && t.NumField() > 0:
		elem := t.Field(0).Type.Elem() // the [0]*T field
		ptr := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		if ptr != nil && cacheOnly(reflect.NewAt(elem.Elem(), ptr).Elem()) {
			ptr = nil
		}
		return c.value(reflect.NewAt(elem.Elem(), ptr))
	case name == "Int32" || name == "Uint32" || name == "Bool":
		x := atomic.LoadUint32((*uint32)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		n := leaf(strconv.FormatUint(uint64(x), 10))
		if name == "Bool" {
			n = leaf(strconv.FormatBool(x != 0))
		} else if name == "Int32" {
			n = leaf(strconv.FormatInt(int64(int32(x)), 10))
		}
		n.zero = x == 0
		return n
	case name == "Int64" || name == "Uint64" || name == "Uintptr":
		x := atomic.LoadUint64((*uint64)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		n := leaf(strconv.FormatUint(x, 10))
		if name == "Int64" {
			n = leaf(strconv.FormatInt(int64(x), 10))
		}
		n.zero = x == 0
		return n
	}
	return c.structValue(v, nil)
}

// formatNamed formats the scalars of a few well-known named types the way
// their String methods do (time.Duration as "5s"), else returns plain.
// Other String methods are not called: the linker removes the methods of
// types the program never converts to an interface, and calling one of
// those aborts the process.
func formatNamed(t reflect.Type, x int64, plain string) string {
	switch t {
	case reflect.TypeOf(time.Duration(0)):
		return time.Duration(x).String()
	case reflect.TypeOf(time.Month(0)):
		return time.Month(x).String()
	case reflect.TypeOf(time.Weekday(0)):
		return time.Weekday(x).String()
	case reflect.TypeOf(fs.FileMode(0)):
		return fs.FileMode(x).String()
	}
	return plain
}

// exactKey renders a map key in full, so that two keys render equally
// exactly when they are equal (NaN aside).
func exactKey(k reflect.Value) string {
	switch k.Kind() {
	case reflect.String:
		return strconv.Quote(readString(k))
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := readInt(k)
		return formatNamed(k.Type(), i, strconv.FormatInt(i, 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := readUint(k)
		return formatNamed(k.Type(), int64(u), strconv.FormatUint(u, 10))
	case reflect.Float32, reflect.Float64:
		f := readFloat(k)
		if f == 0 {
			f = 0 // -0 and +0 are one key
		}
		return strconv.FormatFloat(f, 'g', -1, 64)
	case reflect.Complex64, reflect.Complex128:
		return strconv.FormatComplex(readComplex(k), 'g', -1, 128)
	case reflect.Bool:
		return strconv.FormatBool(readBool(k))
	case reflect.Interface:
		e, ok := readInterface(k)
		if !ok {
			return "nil"
		}
		if e.Type() == typeOfType {
			return typeString(e)
		}
		if e.Kind() == reflect.String && e.Type().PkgPath() == "" {
			return exactKey(e)
		}
		return e.Type().String() + "(" + exactKey(e) + ")"
	case reflect.Pointer, reflect.Chan, reflect.UnsafePointer:
		return "0x" + hex(uint64(uintptr(readPointer(k))))
	case reflect.Struct:
		return "{" + exactKeys(k.NumField(), k.Field, ", ") + "}"
	case reflect.Array:
		return "[" + exactKeys(k.Len(), k.Index, " ") + "]"
	}
	return k.Type().String()
}

// exactKeys returns the exact keys of the n parts of a value, part(i),
// separated by sep.
func exactKeys(n int, part func(int) reflect.Value, sep string) string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = exactKey(part(i))
	}
	return strings.Join(keys, sep)
}

// quote quotes s for a report, shortening it when long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(cutUTF8(s, max)) + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}
