package globals

import (
	"flag"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// This file is the one place that says which state is not program state
// (lazy caches, synchronisation, pools, what the runtime or the garbage
// collector changes on its own) and how special values are read. Every
// special case is one entry of one of the tables below: what it matches,
// what it does, and why.
//
// To add a rule, add one entry to the table it belongs to and one test that
// fails without it (globals_test.go for a type or variable, a block of
// testdata/scenarios for behaviour in a fresh process). Nothing else in the
// package knows about particular types or variables.
//
//   - outOfScope: packages defaultScope does not read.
//   - typeRules: how values of a type are read (or that they are not).
//   - mapRules: maps whose entries are a cache, not state (and
//     cachedEntry, the same for single entries of sync.Maps and of maps
//     keyed by any or by a type's address; cacheOnly, an atomic.Value or
//     atomic.Pointer holding nothing but such a table).
//   - variableRules: how one named variable is read.
//   - appendOnlyValues: sync.Maps whose slice values are never written
//     within their length once stored.
//   - primers: lazy registries completed before the first snapshot.
//
// Three more rules are about change rather than about a type, and are
// applied where two snapshots are compared: the work of a sync.Once
// (onceFired, and onceClosure for the funcs of sync.OnceFunc and
// OnceValue), what a package-level Once that fired filled from zero in its
// package's variables (filledByOnce), and a variable marked lazy by a
// variable rule going from zero to set.

// typeRule says how the values of the types it matches are read.
type typeRule struct {
	what  string // the types matched, for people
	match func(t reflect.Type) bool
	read  func(c *capturer, v reflect.Value) *node
	why   string
}

// typeRules is filled by init: its entries refer to the capturer, which
// refers back to the table.
var typeRules []typeRule

func init() {
	typeRules = []typeRule{
		{
			what:  "sync.Map",
			match: is(reflect.TypeOf(sync.Map{})),
			read:  (*capturer).syncMap,
			why:   "read through Range, which takes the map's own lock",
		},
		{
			what:  "sync.Once",
			match: is(reflect.TypeOf(sync.Once{})),
			read:  func(_ *capturer, v reflect.Value) *node { return onceState(v) },
			why:   "only whether it fired: what it sets up is lazy initialisation (onceFired)",
		},
		{
			what:  "the other types of package sync: Mutex, RWMutex, WaitGroup, Cond, Pool",
			match: inPackage("sync"),
			read:  notRead,
			why:   "machinery, not state; a Pool's contents the garbage collector empties at will",
		},
		{
			what:  "sync/atomic types",
			match: inPackage("sync/atomic"),
			read:  (*capturer).atomic,
			why:   "read with atomic loads, as their writers write them; Pointer and Value are followed",
		},
		{
			what:  "types of the runtime, internal/abi and internal/sync",
			match: inPackage("runtime", "internal/abi", "internal/sync"),
			read:  byIdentity,
			why:   "the runtime changes them on its own, under its own locks",
		},
		{
			what:  "internal/poll.FD, fdMutex, pollDesc",
			match: inPackage("internal/poll"),
			read:  byIdentity,
			why:   "an open file's lock and poller state, which every read and write changes under the file's own lock",
		},
		{
			what:  "os.File",
			match: named("os", "File"),
			read:  osFile,
			why:   "a file is its name and identity; its descriptor's state belongs to its own lock (os.Stdout is written by every test that prints)",
		},
		{
			what:  "weak.Pointer and unique.Handle",
			match: inPackage("weak", "unique"),
			read:  notRead,
			why:   "what they point to lives as long as the garbage collector decides",
		},
		{
			what:  "google.golang.org/protobuf's descriptors and message infos (internal/filedesc, internal/impl)",
			match: inPackage("google.golang.org/protobuf/internal/filedesc", "google.golang.org/protobuf/internal/impl"),
			read:  byIdentity,
			why: "built lazily on first use of a message type, under hand-made Onces (once, initDone) and " +
				"spread over many structs: not program state; a file registered at run time is still " +
				"reported through protoregistry's maps",
		},
		{
			what:  "internal/godebug.Setting",
			match: named("internal/godebug", "Setting"),
			read:  notRead,
			why: "a GODEBUG setting follows $GODEBUG, which is reported with the environment; its count of " +
				"non-default uses (a module whose go line is older than its toolchain's) is a metric",
		},
		{
			what:  "the random sources of math/rand and math/rand/v2 (rngSource, PCG, ChaCha8)",
			match: anyOf(named("math/rand", "rngSource"), named("math/rand/v2", "PCG"), named("math/rand/v2", "ChaCha8")),
			read:  byIdentity,
			why: "a generator's state advances with every number drawn from it, as math/rand's global one " +
				"does (a package's own, for retry jitter): not program state; seeding one again in place " +
				"is not told apart from drawing, and replacing a package's generator is still reported",
		},
		{
			what:  "time.Time",
			match: is(reflect.TypeOf(time.Time{})),
			read:  timeValue,
			why:   "compared by instant and location, not by its monotonic reading's encoding",
		},
		{
			what:  "net/http.ServeMux",
			match: named("net/http", "ServeMux"),
			read:  (*capturer).serveMux,
			why:   "reported by its patterns and handlers, not by its routing tree",
		},
		{
			what:  "net/http.Transport, net/http.Server, database/sql.DB",
			match: anyOf(named("net/http", "Transport"), named("net/http", "Server"), named("database/sql", "DB")),
			read:  configOnly,
			why: "connection pools: their unexported fields hold idle and active connections, which their own " +
				"goroutines change at any time; only the configuration (exported fields) and their sync.Once " +
				"fields (so that what a Once sets up stays its work) are compared",
		},
	}
}

// mapRule marks maps whose entries are a cache.
type mapRule struct {
	what  string
	match func(t reflect.Type) bool // the map's type
	why   string
}

var mapRules = []mapRule{
	{
		what:  "maps keyed by reflect.Type",
		match: func(t reflect.Type) bool { return t.Key() == typeOfType || t.Key() == typeOfReflectT },
		why:   "memo tables of a pure function of the type (encoding/json's encoders, encoding/gob's type info)",
	},
	{
		what:  "maps whose values or keys are weak.Pointer or unique.Handle",
		match: func(t reflect.Type) bool { return collectable(t.Elem()) || collectable(t.Key()) },
		why:   "canonicalisation caches: their entries vanish when the garbage collector frees what they point to",
	},
}

// cachedEntry reports whether an entry of a map is a cache entry, by what
// its key and value hold: a key holding a reflect.Type, for the reason of
// the first map rule; a key or value holding a weak.Pointer or
// unique.Handle, for the reason of the second; a key that is the address of
// a run-time type (typeAddress). The standard library keeps such caches in
// sync.Maps and maps keyed by any, which a map rule cannot tell by type:
// crypto/ecdsa's and crypto/ed25519's privateKeyCache (keyed by a weak
// pointer to the key they were computed from, removed by a cleanup when the
// key is freed) and crypto/tls's globalCertCache (parsed certificates by
// their DER bytes, held by weak pointers).
func cachedEntry(key, val reflect.Value) bool {
	if typeAddress(key) {
		return true
	}
	if key.Kind() != reflect.Interface {
		return false
	}
	k, ok := readInterface(key)
	if ok && (k.Type() == typeOfType || collectable(k.Type()) || typeAddress(k)) {
		return true
	}
	if val.Kind() != reflect.Interface {
		return false
	}
	v, ok := readInterface(val)
	return ok && collectable(v.Type())
}

// cachedAny is cachedEntry for the key and value of a sync.Map.
func cachedAny(key, val any) bool {
	k, v := reflect.TypeOf(key), reflect.TypeOf(val)
	if k == typeOfType || collectableStruct(k) || collectableStruct(v) {
		return true
	}
	if k == nil {
		return false
	}
	kind := k.Kind()
	return (kind == reflect.Uintptr || kind == reflect.UnsafePointer) && typeAddress(reflect.ValueOf(key))
}

// cacheOnly reports whether v holds entries and all of them are cache
// entries: a map whose every entry is (cachedEntry), or a slice of structs
// whose first field is, in every element, a type's address (typeAddress).
// Such a memo table is the whole of what holds it, as go-toml keeps one in
// an atomic.Value, and ugorji's codec a sorted slice of type infos behind
// an atomic.Pointer, each swapped for a larger copy as it grows. It is read
// as no value at all, so that the table's first entry is no change either.
func cacheOnly(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Map:
		if v.IsNil() {
			return false
		}
		all := false
		known, err := readMap(v, func(refs []slotRef) {
			all = len(refs) > 0
			for _, r := range refs {
				if !cachedEntry(r.key, r.elem) {
					all = false
					return
				}
			}
		})
		return known && err == nil && all
	case reflect.Slice:
		if v.Len() == 0 || v.Type().Elem().Kind() != reflect.Struct || v.Type().Elem().NumField() == 0 {
			return false
		}
		for i := range v.Len() {
			if !typeAddress(v.Index(i).Field(0)) {
				return false
			}
		}
		return true
	}
	return false
}

// typeAddress reports whether v, a uintptr or an unsafe.Pointer (of any
// name), holds the address of a run-time type of the running binary: the
// key of a memo table of a pure function of the type that is keyed by the
// type's address rather than by a reflect.Type, for the reason of the first
// map rule. json-iterator's and reflect2's encoder and decoder caches are
// keyed so (uintptr), go-toml's field paths cache too (unsafe.Pointer).
// False when the bounds of the type section are not known.
func typeAddress(v reflect.Value) bool {
	var p uintptr
	switch v.Kind() {
	case reflect.Uintptr:
		p = uintptr(v.Uint())
	case reflect.UnsafePointer:
		p = uintptr(v.Pointer())
	default:
		return false
	}
	lo, hi := typeSection()
	return lo <= p && p < hi
}

// collectableStruct is collectable for a dynamic type that may be nil. Both
// collectable types are structs: the names of other kinds, the strings and
// numbers most sync.Maps hold, are not looked up.
func collectableStruct(t reflect.Type) bool {
	return t != nil && t.Kind() == reflect.Struct && collectable(t)
}

// collectable reports whether values of t live only as long as the garbage
// collector decides: weak.Pointer and unique.Handle.
func collectable(t reflect.Type) bool { return inPackage("weak", "unique")(t) }

// outOfScope lists the packages defaultScope leaves out: their variables
// are the machinery of the runtime and of tests rather than program state.
// Patterns use the go command's syntax.
var outOfScope = []struct{ pattern, why string }{
	{"runtime/...", "the runtime's own bookkeeping"},
	{"reflect", "type caches"},
	{"sync/...", "synchronisation machinery"},
	{"unsafe", "no variables"},
	{"syscall/...", "the environment is reported on its own, by name"},
	{"weak", "what the garbage collector decides"},
	{"unique", "what the garbage collector decides"},
	{"iter", "coroutine machinery"},
	{"go.shape", "generic dictionaries the compiler makes"},
	{"internal/...", "the standard library's internals"},
	{".../internal", "internals of other modules"},
	{".../internal/...", "internals of other modules"},
	{"vendor/...", "the standard library's vendored code"},
	{"testing/...", "the test framework"},
	{"github.com/onsi/ginkgo/...", "the test framework"},
	{"github.com/onsi/gomega/...", "the test framework"},
	{"go.uber.org/goleak/...", "the test framework"},
	{"golang.org/x/sys/...", "system call tables"},
	{"unicode", "constant tables Go cannot declare const: reading them was half the cost of a default-scope snapshot"},
}

// variableRule says how some variables are read.
type variableRule struct {
	variables []string
	read      func(c *capturer, v reflect.Value) *node
	why       string
}

var variableRules = []variableRule{
	{
		variables: []string{"net.hosts"},
		read:      notRead,
		why:       "a cache of /etc/hosts, read again when it is more than 5 seconds old",
	},
	{
		variables: []string{"net.resolvConf"},
		read:      notRead,
		why:       "a cache of /etc/resolv.conf, looked at again when it is more than 5 seconds old",
	},
	{
		variables: []string{"net.nssConfig"},
		read:      notRead,
		why:       "a cache of /etc/nsswitch.conf, looked at again when it is more than 5 seconds old",
	},
	{
		variables: []string{"net.zoneCache"},
		read:      notRead,
		why: "a cache of the network interfaces' names and indexes, fetched again by every net.Interfaces " +
			"and when more than a minute old",
	},
	{
		variables: []string{"github.com/google/uuid.lasttime", "github.com/google/uuid.lastV7time",
			"github.com/google/uuid.clockSeq", "github.com/google/uuid.pool", "github.com/google/uuid.poolPos"},
		read: notRead,
		why: "the generator's state, which every UUID moves: the last time a version 1, 6 or 7 UUID was " +
			"made (kept so that the next is later), the clock sequence (random on first use, stepped when " +
			"two UUIDs fall in one tick), the random bytes drawn ahead once EnableRandPool has turned the " +
			"pool on (poolEnabled, which is reported)",
	},
	{
		variables: []string{"github.com/google/uuid.nodeID", "github.com/google/uuid.ifname", "github.com/google/uuid.interfaces"},
		read:      lazyValue,
		why: "the node ID, the interface it was taken from and the list of interfaces, set the first time " +
			"a version 1 UUID is made; SetNodeID and SetNodeInterface changing them once set are reported",
	},
	{
		variables: []string{"encoding/gob.idToTypeSlice"},
		read:      notRead,
		why: "gob's type ids, given to each type the first time the process encodes or decodes it and kept " +
			"for good: a memo table of a pure function of the type, like its maps keyed by reflect.Type " +
			"(gob.Register's names are read)",
	},
	{
		variables: []string{"google.golang.org/protobuf/reflect/protodesc.defaultsCache"},
		read:      notRead,
		why: "the feature defaults of each protobuf edition, computed from embedded data the first time a " +
			"descriptor of that edition is built (protodesc.NewFile, a gRPC reflection service) and kept",
	},
	{
		variables: []string{"math/rand.globalRandGenerator"},
		read:      lazyIdentity,
		why: "math/rand seeds its global generator on first use through an atomic.Pointer: nil to set " +
			"is that first use; the generator's state advancing is not program state; rand.Seed " +
			"replacing the generator is reported (a later Seed seeds the replacement in place, which reads " +
			"as its state advancing)",
	},
}

// appendOnlyValues are sync.Maps of strings to []strings whose values are
// never written within their length once stored: a value changes only by
// a Store of a longer one (append), which replaces its entry in the map's
// hash-trie. Their memo (syncMapMemo) compares the trie's slots alone,
// without reading the elements of every value, which a map that hands its
// slices out would need.
var appendOnlyValues = []struct {
	variable, why string
}{
	{
		variable: "mime.extensions",
		why: "declared as map[string][]string whose slice values are append-only; setExtensionType " +
			"stores append(exts, ext), and ExtensionsByType returns a copy",
	},
}

// appendOnlyVariable reports whether the variable named name is one of
// appendOnlyValues.
func appendOnlyVariable(name string) bool {
	for _, r := range appendOnlyValues {
		if r.variable == name {
			return true
		}
	}
	return false
}

// primers complete lazy registries before the first snapshot, so that a
// block that happens to be their first user is reported for what it added,
// not for the whole built-in table.
var primers = []struct {
	what, why string
	prime     func()
}{
	{
		what:  "mime's type table",
		prime: func() { doOnce("mime.once", "mime.initMime") },
		why: "mime loads its built-in types and the system's mime.types files under a sync.Once on first use; " +
			"only a binary that can use them links them (residue does not import mime)",
	},
	{
		what: "flag.CommandLine in a test binary",
		prime: func() {
			if flag.Lookup("test.v") != nil && !flag.Parsed() {
				flag.Parse()
			}
		},
		why: "testing's M.Run parses the command line into flag.CommandLine (its test.* flags and the " +
			"package's own) unless it was parsed already; that is not the tests' doing, so a check of " +
			"M.Run (residue.VerifyTestMain) parses it first, as M.Run would",
	},
}

var primeOnce sync.Once

// doOnce calls the package-level function fn under the sync.Once variable
// once, as their package's own code does (once.Do(initMime)), when the
// binary has both: the lazy registry of a package residue does not import,
// which is then filled only where the program can use it.
func doOnce(once, fn string) {
	s, v, ok := findSelf(once)
	if !ok || v.TypeName != "sync.Once" || v.Size != int64(unsafe.Sizeof(sync.Once{})) {
		return
	}
	if f, ok := s.function(v.Package, fn); ok {
		(*sync.Once)(s.addr(v)).Do(f)
	}
}

func prime() {
	for _, p := range primers {
		p.prime()
	}
}

var ruleCache = newTypeCache[*typeRule]() // nil when a type has none

// typeRuleFor returns the rule for values of t, or nil. Every rule is about
// named types, and the answer is kept per type.
func typeRuleFor(t reflect.Type) *typeRule {
	if pkg, _ := typeName(t); pkg == "" {
		return nil
	}
	return ruleCache.of(t, func(t reflect.Type) *typeRule {
		for i := range typeRules {
			if typeRules[i].match(t) {
				return &typeRules[i]
			}
		}
		return nil
	})
}

func isCacheMap(t reflect.Type) bool {
	for _, r := range mapRules {
		if r.match(t) {
			return true
		}
	}
	return false
}

func variableRuleFor(name string) *variableRule {
	for i := range variableRules {
		if slices.Contains(variableRules[i].variables, name) {
			return &variableRules[i]
		}
	}
	return nil
}

func is(t reflect.Type) func(reflect.Type) bool {
	return func(u reflect.Type) bool { return u == t }
}

func named(pkg, name string) func(reflect.Type) bool {
	return func(t reflect.Type) bool {
		p, n := typeName(t)
		return p == pkg && n == name
	}
}

func inPackage(pkgs ...string) func(reflect.Type) bool {
	return func(t reflect.Type) bool {
		p, _ := typeName(t)
		for _, q := range pkgs {
			if p == q {
				return true
			}
		}
		return false
	}
}

func anyOf(ms ...func(reflect.Type) bool) func(reflect.Type) bool {
	return func(t reflect.Type) bool {
		for _, m := range ms {
			if m(t) {
				return true
			}
		}
		return false
	}
}

func notRead(*capturer, reflect.Value) *node { return &node{kind: leafNode, zero: true} }

// configOnly reads the exported fields of a struct and its sync.Once
// fields.
func configOnly(c *capturer, v reflect.Value) *node {
	return c.structValue(v, func(f reflect.StructField) bool {
		return f.IsExported() || f.Type == reflect.TypeOf(sync.Once{})
	})
}

func osFile(_ *capturer, v reflect.Value) *node {
	name := "?"
	if f := v.FieldByName("file"); f.IsValid() && f.Kind() == reflect.Pointer {
		if p := readPointer(f); p != nil {
			if n := elemAt(f.Type().Elem(), p).FieldByName("name"); n.IsValid() && n.Kind() == reflect.String {
				name = readString(n) // set when the file is opened, never after
			}
		}
	}
	var addr uintptr
	if v.CanAddr() {
		addr = v.UnsafeAddr()
	}
	return leaf("os.File(" + quote(name) + " 0x" + hex(uint64(addr)) + ")")
}

func timeValue(_ *capturer, v reflect.Value) *node {
	var tm time.Time
	if v.CanAddr() {
		tm = loadTime(unsafe.Pointer(v.UnsafeAddr()))
	} else {
		tm = v.Interface().(time.Time)
	}
	n := leaf(tm.Format(time.RFC3339Nano))
	n.zero = tm.IsZero()
	return n
}

// lazyIdentity reads a pointer (or atomic.Pointer) by identity, and marks
// the node so that nil to set is not reported. Either is shown as the
// pointer it holds, "(*rand.Rand)(0x…)": an atomic.Pointer[T] whose type
// the linker did not keep is rebuilt from its DWARF layout, which only its
// first field ([0]*T) says is T's.
func lazyIdentity(c *capturer, v reflect.Value) *node {
	var p unsafe.Pointer
	shown := v.Type()
	if v.Kind() == reflect.Pointer {
		p = readPointer(v)
	} else if v.Kind() == reflect.Struct && v.NumField() > 0 {
		last := v.Field(v.NumField() - 1) // atomic.Pointer's v unsafe.Pointer
		if last.CanAddr() {
			p = loadPtr(unsafe.Pointer(last.UnsafeAddr()))
		}
		if f := v.Type().Field(0).Type; f.Kind() == reflect.Array && f.Len() == 0 && f.Elem().Kind() == reflect.Pointer {
			shown = f.Elem()
		}
	}
	n := leaf("(" + shown.String() + ")(0x" + hex(uint64(uintptr(p))) + ")")
	if p == nil {
		n = leaf("nil")
		n.zero = true
	}
	n.lazy = true
	return n
}

// byIdentity reads a value by its address (a pointer's, the address it
// holds), for the rules of types whose contents are not program state.
func byIdentity(_ *capturer, v reflect.Value) *node { return identity(v) }

// lazyValue reads a value as any other, and marks the node so that zero
// to set (the first use) is not reported; a change once set is.
func lazyValue(c *capturer, v reflect.Value) *node {
	n := c.value(v)
	n.lazy = true
	return n
}

// onceFired reports whether a sync.Once went from not done (a) to done
// (b): the changes it explains are lazy initialisation, for the fields of
// the struct it belongs to and for the package-level variables that went
// from zero to set beside a package-level Once.
func onceFired(a, b *node) bool {
	return a.kind == onceNode && a.zero && b.kind == onceNode && !b.zero
}

// filledByOnce reports whether a part of a variable that was zero (before)
// and changed is the work of a package-level sync.Once of the variable's
// package that fired during the block (packageOnceFired): lazy
// initialisation fills what was zero, whether a whole variable or a part
// of one. crypto/elliptic's initonce, on the first use of any curve, fills
// the params field of its four curves, variables set at init with the
// curve's other fields. A change to a part that was set, and any change
// when no package-level Once of the package fired, is reported.
func filledByOnce(packageOnceFired bool, before *node) bool {
	return packageOnceFired && before.zero
}

// A func made by sync.OnceFunc, OnceValue or OnceValues is a sync.Once in
// disguise (hash/crc32's tables, for one, are built behind one): it is read
// as a Once, so that the package-level variables it sets from zero are its
// work. Its closure holds a pointer to a struct whose Once follows a func
// field; where, is checked once against a func made here.
var (
	onceClosureCheck sync.Once
	onceClosureOK    bool
)

const onceClosureDone = unsafe.Sizeof(uintptr(0)) // offset of Once.done in the closure's struct

// onceClosureData is the struct a OnceFunc closure points to.
//
//go:nocheckptr
func onceClosureData(f unsafe.Pointer) unsafe.Pointer {
	return loadPtr(unsafe.Add(f, unsafe.Sizeof(uintptr(0))))
}

func checkOnceClosure() {
	f := sync.OnceFunc(func() {})
	g := sync.OnceValue(func() int { return 1 })
	fp, gp := *(*unsafe.Pointer)(unsafe.Pointer(&f)), *(*unsafe.Pointer)(unsafe.Pointer(&g))
	before := load32(unsafe.Add(onceClosureData(fp), onceClosureDone)) == 0 && load32(unsafe.Add(onceClosureData(gp), onceClosureDone)) == 0
	f()
	_ = g()
	after := load32(unsafe.Add(onceClosureData(fp), onceClosureDone)) == 1 && load32(unsafe.Add(onceClosureData(gp), onceClosureDone)) == 1
	onceClosureOK = before && after
}

// onceClosure reads a func value made by sync.OnceFunc, OnceValue or
// OnceValues as a Once.
func onceClosure(v reflect.Value, name string) (*node, bool) {
	// The closure is named sync.OnceFunc.funcN, or pkg.caller.OnceFunc.funcN
	// where OnceFunc was inlined; likewise OnceValue[...] and OnceValues[...].
	if !strings.Contains(name, "OnceFunc.func") && !strings.Contains(name, "OnceValue[") && !strings.Contains(name, "OnceValues[") {
		return nil, false
	}
	onceClosureCheck.Do(checkOnceClosure)
	closure := readPointer(v)
	if !onceClosureOK || closure == nil || !v.CanAddr() {
		return nil, false
	}
	done := load32(unsafe.Add(onceClosureData(closure), onceClosureDone)) != 0
	n := &node{kind: onceNode, zero: !done, text: "not done"}
	if done {
		n.text = "done"
	}
	n.hash = hashString(name + n.text)
	return n, true
}

// builtNames holds the DWARF names of the struct types built from DWARF
// layouts (structOf), for the named types the linker kept no run-time type
// of: a small program that only calls http.HandleFunc has none for
// http.ServeMux. "" where two named types share one layout.
var builtNames sync.Map // reflect.Type -> string

// nameBuilt records that t was built from the layout of the type DWARF
// names name ("net/http.ServeMux").
func nameBuilt(t reflect.Type, name string) {
	if name == "" || strings.ContainsAny(name, "[ ") || !strings.Contains(name, ".") {
		return
	}
	if old, loaded := builtNames.LoadOrStore(t, name); loaded && old != name {
		builtNames.Store(t, "")
	}
}

// typeName returns the package path and name of t, which for a struct type
// built from a DWARF layout are those DWARF gives the named type: the rules
// apply to it as to the type itself.
func typeName(t reflect.Type) (pkg, name string) {
	if t.Name() != "" || t.Kind() != reflect.Struct {
		return t.PkgPath(), t.Name()
	}
	if v, ok := builtNames.Load(t); ok && v.(string) != "" {
		s := v.(string)
		dot := strings.LastIndexByte(s, '.')
		return s[:dot], s[dot+1:]
	}
	return "", ""
}
