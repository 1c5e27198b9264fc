package globals

import (
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
	hash  uint64 // of everything below
	text  string // leaf: the value; iface: the dynamic type; ptr: the pointer's type
	names []string
	kids  []*node
	addr  uintptr // ptr: the address pointed to
	// map: names are unquoted string keys
	rawKeys bool
	ref     bool // ptr: met before on this graph; its state is captured there
}

type nodeKind uint8

const (
	leafNode   nodeKind = iota
	structNode          // names are field names
	seqNode             // slices and arrays; kids by index
	mapNode             // names are sorted keys
	ifaceNode           // text is the dynamic type, one kid
	ptrNode             // zero or one kid
	onceNode            // a sync.Once: zero means not done
)

var seed = maphash.MakeSeed()

func hashString(s string) uint64 { return maphash.String(seed, s) }

func mix(h, x uint64) uint64 {
	h ^= x + 0x9e3779b97f4a7c15 + (h << 6) + (h >> 2)
	return h
}

// capturer walks the state reachable from one variable.
type capturer struct {
	seen  map[visit]bool // pointers and maps on the current variable's graph
	nodes int
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
	typeOfTime     = reflect.TypeOf(time.Time{})
	typeOfSyncMap  = reflect.TypeOf(sync.Map{})
	typeOfOnce     = reflect.TypeOf(sync.Once{})
	typeOfReflectT = reflect.TypeOf((*reflect.Type)(nil)).Elem()
)

func capture(v reflect.Value) *node {
	c := &capturer{seen: map[visit]bool{}}
	return c.value(v)
}

// captureParts captures a struct read field by field.
func captureParts(parts []part) *node {
	c := &capturer{seen: map[visit]bool{}}
	return c.parts(parts)
}

func (c *capturer) parts(parts []part) *node {
	n := &node{kind: structNode, zero: true, hash: hashString("struct")}
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

func (c *capturer) value(v reflect.Value) *node {
	c.nodes++
	if c.nodes > maxNodes {
		return leaf("(not read: more than " + strconv.Itoa(maxNodes) + " values)")
	}
	t := v.Type()
	switch t.PkgPath() {
	case "sync":
		switch t {
		case typeOfSyncMap:
			return c.syncMap(v)
		case typeOfOnce:
			return onceState(v)
		}
		// Mutexes, pools, wait groups, conditions: machinery, not state.
		return &node{kind: leafNode, zero: true}
	case "sync/atomic":
		if n, ok := c.atomic(v); ok {
			return n
		}
	case "internal/abi", "runtime", "internal/sync":
		return identity(v)
	}
	if t.PkgPath() == "net/http" && t.Name() == "ServeMux" {
		return serveMux(v)
	}
	if t == typeOfTime && v.CanAddr() {
		tm := *(*time.Time)(unsafe.Pointer(v.UnsafeAddr()))
		n := leaf(tm.Format(time.RFC3339Nano))
		n.zero = tm.IsZero()
		return n
	}
	switch v.Kind() {
	case reflect.Bool:
		n := leaf(strconv.FormatBool(v.Bool()))
		n.zero = !v.Bool()
		return n
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := leaf(formatNamed(v, strconv.FormatInt(v.Int(), 10)))
		n.zero = v.Int() == 0
		return n
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n := leaf(formatNamed(v, strconv.FormatUint(v.Uint(), 10)))
		n.zero = v.Uint() == 0
		return n
	case reflect.Float32, reflect.Float64:
		n := leaf(formatNamed(v, strconv.FormatFloat(v.Float(), 'g', -1, 64)))
		n.zero = math.Float64bits(v.Float()) == 0
		return n
	case reflect.Complex64, reflect.Complex128:
		n := leaf(strconv.FormatComplex(v.Complex(), 'g', -1, 128))
		n.zero = v.Complex() == 0
		return n
	case reflect.String:
		s := v.String()
		n := leaf(formatNamed(v, quote(s)))
		n.hash = hashString(s)
		n.zero = s == ""
		return n
	case reflect.Chan, reflect.UnsafePointer:
		return identity(v)
	case reflect.Func:
		if v.IsNil() {
			return &node{kind: leafNode, zero: true, text: "nil", hash: hashString("nil")}
		}
		name := "func"
		if f := runtime.FuncForPC(v.Pointer()); f != nil {
			name = f.Name()
		}
		return leaf(name)
	case reflect.Pointer:
		return c.pointer(v)
	case reflect.Interface:
		if v.IsNil() {
			return &node{kind: ifaceNode, zero: true, text: "nil", hash: hashString("nil")}
		}
		e := v.Elem()
		if e.Type() == typeOfType {
			return leaf(typeString(e))
		}
		kid := c.value(e)
		dyn := e.Type().String()
		return &node{kind: ifaceNode, text: dyn, kids: []*node{kid}, hash: mix(hashString(dyn), kid.hash)}
	case reflect.Struct:
		n := &node{kind: structNode, zero: true, hash: hashString(t.String())}
		pool := isPool(t)
		for i := 0; i < t.NumField(); i++ {
			if pool && !t.Field(i).IsExported() && t.Field(i).Type != typeOfOnce {
				continue // kept: a Once, whose firing explains its siblings' changes
			}
			kid := c.value(v.Field(i))
			n.names = append(n.names, t.Field(i).Name)
			n.kids = append(n.kids, kid)
			n.zero = n.zero && kid.zero
			n.hash = mix(n.hash, kid.hash)
		}
		return n
	case reflect.Array:
		return c.sequence(v)
	case reflect.Slice:
		if v.IsNil() {
			return &node{kind: seqNode, zero: true, hash: hashString("nil slice")}
		}
		return c.sequence(v)
	case reflect.Map:
		return c.mapValue(v)
	}
	return leaf("(" + v.Kind().String() + ")")
}

// serveMux captures an http.ServeMux as what it routes: its patterns, each
// with its handler, rather than its routing tree and index, whose layout
// says nothing to a reader. A registration is then reported as
// `net/http.DefaultServeMux.patterns: added "/hello": main.hello`.
func serveMux(v reflect.Value) *node {
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
			if v.Type().Name() == "routingNode" {
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

// pools are types that hold live connections in unexported fields, which
// their own goroutines update at any time (idle connections, dials in
// progress, active connections): of these only the exported fields, their
// configuration, are compared, and their sync.Once fields, so that what a
// Once sets up (http.Transport's HTTP/2 defaults) remains its work.
var pools = map[string]bool{
	"net/http.Transport": true,
	"net/http.Server":    true,
	"database/sql.DB":    true,
}

func isPool(t reflect.Type) bool {
	return t.PkgPath() != "" && pools[t.PkgPath()+"."+t.Name()]
}

// identity captures a value by its address only.
func identity(v reflect.Value) *node {
	var p uintptr
	switch v.Kind() {
	case reflect.Chan, reflect.UnsafePointer, reflect.Pointer, reflect.Map, reflect.Func:
		p = v.Pointer()
	default:
		if v.CanAddr() {
			p = v.UnsafeAddr()
		}
	}
	n := leaf(v.Type().String() + "(0x" + strconv.FormatUint(uint64(p), 16) + ")")
	n.zero = p == 0
	if p == 0 {
		n.text = "nil"
	}
	return n
}

func typeString(v reflect.Value) string {
	if t, ok := readable(v).(reflect.Type); ok && t != nil {
		return "type " + t.String()
	}
	return "type"
}

func (c *capturer) pointer(v reflect.Value) *node {
	if v.IsNil() {
		return &node{kind: ptrNode, zero: true, text: "nil", hash: hashString("nil")}
	}
	key := visit{v.Pointer(), v.Type()}
	if c.seen[key] {
		// A cycle or a pointer met before on this variable's graph: its
		// state is captured where it was first met.
		return &node{kind: ptrNode, ref: true, addr: key.addr, text: v.Type().String(), hash: mix(hashString("ref"), uint64(key.addr))}
	}
	c.seen[key] = true
	kid := c.value(v.Elem())
	return &node{kind: ptrNode, addr: key.addr, text: v.Type().String(), kids: []*node{kid}, hash: mix(hashString("&"), kid.hash)}
}

func (c *capturer) sequence(v reflect.Value) *node {
	n := &node{kind: seqNode, hash: hashString(v.Type().String()), zero: true}
	l := v.Len()
	et := v.Type().Elem()
	if l >= bigScalars && pointerFree(et) {
		if p, ok := contiguous(v); ok {
			b := unsafe.Slice((*byte)(p), uintptr(l)*et.Size())
			h := maphash.Bytes(seed, b)
			zero := true
			for _, x := range b {
				if x != 0 {
					zero = false
					break
				}
			}
			return &node{kind: leafNode, zero: zero && v.Kind() == reflect.Array, hash: h,
				text: "[" + strconv.Itoa(l) + "]" + et.String() + " (content hash " + strconv.FormatUint(h>>40, 16) + ")"}
		}
	}
	n.kids = make([]*node, l)
	for i := 0; i < l; i++ {
		kid := c.value(v.Index(i))
		n.kids[i] = kid
		n.zero = n.zero && kid.zero
		n.hash = mix(n.hash, kid.hash)
	}
	if v.Kind() == reflect.Slice {
		n.zero = false // an empty non-nil slice is not nil
	}
	return n
}

func contiguous(v reflect.Value) (unsafe.Pointer, bool) {
	if v.Kind() == reflect.Slice {
		return v.UnsafePointer(), true
	}
	if v.CanAddr() {
		return unsafe.Pointer(v.UnsafeAddr()), true
	}
	return nil, false
}

func pointerFree(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return true
	case reflect.Array:
		return pointerFree(t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			if !pointerFree(t.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

func (c *capturer) mapValue(v reflect.Value) *node {
	if v.IsNil() {
		return &node{kind: mapNode, zero: true, hash: hashString("nil map")}
	}
	t := v.Type()
	key := visit{v.Pointer(), t}
	if c.seen[key] {
		return leaf("(" + t.String() + " seen above)")
	}
	c.seen[key] = true
	if isTypeKey(t.Key()) {
		// A memo table keyed by type: lazily filled, never program state.
		return &node{kind: leafNode, zero: true, text: "(cache keyed by type)"}
	}
	// A copy of the map reference without the read-only mark of unexported
	// fields, so that keys and values can be copied into reused holders
	// instead of allocated one by one.
	p := v.UnsafePointer()
	m := reflect.NewAt(t, unsafe.Pointer(&p)).Elem()
	k, val := reflect.New(t.Key()).Elem(), reflect.New(t.Elem()).Elem()
	rawKeys := t.Key().Kind() == reflect.String && t.Key().PkgPath() == ""
	entries := make([]entry, 0, m.Len())
	for it := m.MapRange(); it.Next(); {
		k.SetIterKey(it)
		if k.Kind() == reflect.Interface && !k.IsNil() && k.Elem().Type() == typeOfType {
			continue
		}
		val.SetIterValue(it)
		var ks string
		if rawKeys {
			ks = k.String()
		} else {
			ks = formatKey(k)
		}
		entries = append(entries, entry{key: ks, state: c.value(val)})
	}
	return c.mapNode(t.String(), entries, rawKeys, !plainValues(t.Elem()))
}

// plainValues reports whether values of t hold no pointers other than
// strings: their capture does not depend on the order in which shared
// pointers are met, so a map of them need not be walked in key order.
func plainValues(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String:
		return true
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
// place each time). With rawKeys, keys are strings kept unquoted until they
// are shown.
func (c *capturer) mapNode(typ string, entries []entry, rawKeys, sorted bool) *node {
	if sorted {
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	}
	n := &node{kind: mapNode, hash: hashString(typ), names: make([]string, len(entries)), kids: make([]*node, len(entries)), rawKeys: rawKeys}
	var sum uint64
	for i, e := range entries {
		if sorted && i > 0 && e.key == entries[i-1].key {
			e.key += "#" + strconv.Itoa(i)
		}
		n.names[i], n.kids[i] = e.key, e.state
		sum += mix(hashString(e.key), e.state.hash)
	}
	n.hash = mix(n.hash, sum)
	n.zero = len(entries) == 0
	return n
}

// keyText is how the i-th key of a map node is shown.
func (n *node) keyText(i int) string {
	if n.rawKeys {
		return quote(n.names[i])
	}
	return n.names[i]
}

func isTypeKey(t reflect.Type) bool {
	return t == typeOfType || t == typeOfReflectT
}

func (c *capturer) syncMap(v reflect.Value) *node {
	if !v.CanAddr() {
		return identity(v)
	}
	m := (*sync.Map)(unsafe.Pointer(v.UnsafeAddr()))
	var entries []entry
	strKeys, plain := true, true
	m.Range(func(k, val any) bool {
		if _, ok := k.(reflect.Type); ok {
			return true // a memo table keyed by type
		}
		key, isString := k.(string)
		if !isString {
			key = formatKey(reflect.ValueOf(k))
			if strKeys {
				// Quote the raw string keys kept so far.
				for i := range entries {
					entries[i].key = quote(entries[i].key)
				}
				strKeys = false
			}
		} else if !strKeys {
			key = quote(key)
		}
		if plain && val != nil && !plainValues(reflect.TypeOf(val)) {
			plain = false
		}
		entries = append(entries, entry{key: key, state: c.value(reflect.ValueOf(&val).Elem())})
		return true
	})
	return c.mapNode("sync.Map", entries, strKeys, !plain)
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
func (c *capturer) atomic(v reflect.Value) (*node, bool) {
	if !v.CanAddr() {
		return nil, false
	}
	t := v.Type()
	p := unsafe.Pointer(v.UnsafeAddr())
	switch name := t.Name(); {
	case name == "Value":
		x := (*atomic.Value)(p).Load()
		return c.value(reflect.ValueOf(&x).Elem()), true
	case len(name) > 8 && name[:8] == "Pointer[" && t.NumField() > 0:
		elem := t.Field(0).Type.Elem() // the [0]*T field
		ptr := atomic.LoadPointer((*unsafe.Pointer)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		return c.value(reflect.NewAt(elem.Elem(), ptr)), true
	case name == "Int32" || name == "Uint32" || name == "Bool":
		x := atomic.LoadUint32((*uint32)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		n := leaf(strconv.FormatUint(uint64(x), 10))
		if name == "Bool" {
			n = leaf(strconv.FormatBool(x != 0))
		} else if name == "Int32" {
			n = leaf(strconv.FormatInt(int64(int32(x)), 10))
		}
		n.zero = x == 0
		return n, true
	case name == "Int64" || name == "Uint64" || name == "Uintptr":
		x := atomic.LoadUint64((*uint64)(unsafe.Pointer(v.Field(t.NumField() - 1).UnsafeAddr())))
		n := leaf(strconv.FormatUint(x, 10))
		if name == "Int64" {
			n = leaf(strconv.FormatInt(int64(x), 10))
		}
		n.zero = x == 0
		return n, true
	}
	return nil, false
}

// formatNamed formats the scalars of a few well-known named types the way
// their String methods do (time.Duration as "5s"), else returns plain.
// Other String methods are not called: the linker removes the methods of
// types the program never converts to an interface, and calling one of
// those aborts the process.
func formatNamed(v reflect.Value, plain string) string {
	if v.Type().PkgPath() == "" {
		return plain
	}
	switch x := readable(v).(type) {
	case time.Duration:
		return x.String()
	case time.Month:
		return x.String()
	case time.Weekday:
		return x.String()
	case fs.FileMode:
		return x.String()
	}
	return plain
}

// readable returns a copy of a scalar or interface value as an any, even
// when it was reached through unexported fields.
func readable(v reflect.Value) any {
	if v.CanInterface() {
		return v.Interface()
	}
	c := reflect.New(v.Type()).Elem()
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		c.SetInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		c.SetUint(v.Uint())
	case reflect.Float32, reflect.Float64:
		c.SetFloat(v.Float())
	case reflect.String:
		c.SetString(v.String())
	case reflect.Bool:
		c.SetBool(v.Bool())
	case reflect.Interface:
		if v.CanAddr() {
			return reflect.NewAt(v.Type(), unsafe.Pointer(v.UnsafeAddr())).Elem().Interface()
		}
		return nil
	default:
		return nil
	}
	return c.Interface()
}

// formatKey renders a map key so that equal keys render equally.
func formatKey(k reflect.Value) string {
	switch k.Kind() {
	case reflect.String:
		return quote(k.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return formatNamed(k, strconv.FormatInt(k.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return formatNamed(k, strconv.FormatUint(k.Uint(), 10))
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(k.Float(), 'g', -1, 64)
	case reflect.Bool:
		return strconv.FormatBool(k.Bool())
	case reflect.Interface:
		if k.IsNil() {
			return "nil"
		}
		e := k.Elem()
		if e.Type() == typeOfType {
			return typeString(e)
		}
		if e.Kind() == reflect.String && e.Type().PkgPath() == "" {
			return formatKey(e)
		}
		return e.Type().String() + "(" + formatKey(e) + ")"
	case reflect.Pointer, reflect.Chan, reflect.UnsafePointer:
		return "0x" + strconv.FormatUint(uint64(k.Pointer()), 16)
	case reflect.Struct:
		s := "{"
		for i := 0; i < k.NumField(); i++ {
			if i > 0 {
				s += ", "
			}
			s += formatKey(k.Field(i))
		}
		return s + "}"
	case reflect.Array:
		s := "["
		for i := 0; i < k.Len(); i++ {
			if i > 0 {
				s += " "
			}
			s += formatKey(k.Index(i))
		}
		return s + "]"
	}
	return k.Type().String()
}

// quote quotes s, shortening it when long.
func quote(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "…(" + strconv.Itoa(len(s)) + " bytes)"
	}
	return strconv.Quote(s)
}
