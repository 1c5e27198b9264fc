package globals

import (
	"mime"
	"net/http"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"
	"weak"
)

type fpListNode struct {
	next *fpListNode
	val  int
}

type fpBox struct{ X []int }

type fpDeep struct {
	List    *fpListNode
	ByName  map[string]*fpBox
	Nested  map[string]map[int]string
	Shared  sync.Map
	Value   atomic.Value
	Ptr     atomic.Pointer[fpBox]
	Any     any
	AnyMap  any
	Long    []int
	Text    string
	When    time.Time
	Counter atomic.Int64
	Guard   sync.Mutex
}

var fpVar fpDeep

// fpSet fills fpVar afresh, so that each case starts from the same state.
func fpSet() (textBytes []byte) {
	fpVar.List = &fpListNode{val: 1, next: &fpListNode{val: 2, next: &fpListNode{val: 3}}}
	fpVar.ByName = map[string]*fpBox{"a": {X: []int{1, 2, 3}}, "b": {X: []int{4}}}
	fpVar.Nested = map[string]map[int]string{"outer": {1: "one", 2: "two"}}
	fpVar.Shared.Clear()
	fpVar.Shared.Store("k", &fpBox{X: []int{7}})
	fpVar.Value.Store(&fpBox{X: []int{8}})
	fpVar.Ptr.Store(&fpBox{X: []int{9}})
	fpVar.Any = &fpBox{X: []int{10}}
	fpVar.AnyMap = map[string]int{"x": 1}
	fpVar.Long = make([]int, 100)
	textBytes = []byte("hello")
	fpVar.Text = unsafe.String(&textBytes[0], len(textBytes))
	fpVar.When = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	fpVar.Counter.Store(0)
	return textBytes
}

// A variable that did not change between two snapshots is not captured
// again: the second snapshot holds the very tree of the first. And a
// change anywhere below it, however deep (through pointers, maps, a
// sync.Map, atomic values, interfaces, a long pointer-free slice, the bytes
// of a string written in place), is still reported once it was reused.
func TestReusedCaptureStillSeesEveryChange(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(text []byte)
		path   string // expected in the change's path
	}{
		{"list tail", func([]byte) { fpVar.List.next.next.val = 30 }, "next.next.val"},
		{"map of pointers", func([]byte) { fpVar.ByName["a"].X[1] = 20 }, `["a"].X[1]`},
		{"map in a map", func([]byte) { fpVar.Nested["outer"][2] = "deux" }, `["outer"][2]`},
		{"entry added to an inner map", func([]byte) { fpVar.Nested["outer"][3] = "three" }, `["outer"]`},
		{"sync.Map value's target", func([]byte) {
			v, _ := fpVar.Shared.Load("k")
			v.(*fpBox).X[0] = 70
		}, "Shared"},
		{"atomic.Value's target", func([]byte) { fpVar.Value.Load().(*fpBox).X[0] = 80 }, "Value"},
		{"atomic.Pointer's target", func([]byte) { fpVar.Ptr.Load().X[0] = 90 }, "Ptr"},
		{"interface's target", func([]byte) { fpVar.Any.(*fpBox).X[0] = 100 }, "Any"},
		{"map in an interface", func([]byte) { fpVar.AnyMap.(map[string]int)["x"] = 2 }, "AnyMap"},
		{"long pointer-free slice", func([]byte) { fpVar.Long[99] = 1 }, "Long"},
		{"string bytes written in place", func(b []byte) { b[0] = 'j' }, "Text"},
		{"time", func([]byte) { fpVar.When = fpVar.When.Add(time.Second) }, "When"},
		{"atomic counter", func([]byte) { fpVar.Counter.Add(1) }, "Counter"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := fpSet()
			first := fpTake(t)
			second := fpTake(t)
			if first != second {
				t.Fatal("an unchanged variable was captured again instead of reused")
			}
			before, err := takeSnapshot(Watching(&fpVar))
			if err != nil {
				t.Fatal(err)
			}
			tc.mutate(text)
			after, err := takeSnapshot(Watching(&fpVar))
			if err != nil {
				t.Fatal(err)
			}
			r := compare(before, after)
			if len(r.Changes) == 0 {
				t.Fatalf("the change was not reported")
			}
			found := false
			for _, c := range r.Changes {
				found = found || strings.Contains(c.Path, tc.path)
			}
			if !found {
				t.Fatalf("no change at a path with %q:\n%s", tc.path, r)
			}
		})
	}
}

// fpTake snapshots fpVar and returns its captured tree.
func fpTake(t *testing.T) *node {
	t.Helper()
	s, err := takeSnapshot(Watching(&fpVar))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range s.vars {
		if v.watched != 0 {
			return v.state
		}
	}
	t.Fatal("fpVar not in the snapshot")
	return nil
}

// Locking a mutex, which the capture does not read, and reading the state
// leave the capture reused; a sync.OnceFunc that runs does not.
func TestReuseFollowsTheRules(t *testing.T) {
	fpSet()
	first := fpTake(t)
	fpVar.Guard.Lock()
	fpVar.Guard.Unlock()
	if fpTake(t) != first {
		t.Fatal("a mutex used in between made the variable captured again")
	}
	once := struct{ F func() }{sync.OnceFunc(func() {})}
	s1, err := takeSnapshot(Watching(&once))
	if err != nil {
		t.Fatal(err)
	}
	once.F()
	s2, err := takeSnapshot(Watching(&once))
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s1.vars[0].state, s2.vars[0].state; same(a, b) {
		t.Fatalf("a OnceFunc that ran reads the same: %s", render(b))
	}
}

var fpBig = func() map[string][]int {
	m := map[string][]int{}
	for i := range 2000 {
		m[strings.Repeat("k", i%7)+time.Duration(i).String()] = []int{i, i + 1}
	}
	return m
}()

// A snapshot of an unchanged variable allocates nothing per value: 2,000
// map entries of slices took over 6,000 allocations to capture.
func TestUnchangedVariableCostsNoAllocationPerValue(t *testing.T) {
	if _, err := takeSnapshot(Watching(&fpBig)); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := takeSnapshot(Watching(&fpBig)); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 200 {
		t.Fatalf("%.0f allocations for a snapshot of an unchanged 2,000-entry map", allocs)
	}
}

// The captures kept for reuse are bounded: watching ever new variables
// (a test's locals, each check) does not keep every capture forever.
func TestReusedCapturesAreBounded(t *testing.T) {
	defer func(n int) { maxReused = n }(maxReused)
	maxReused = 100
	for range maxReused + 10 {
		x := new(int)
		if _, err := takeSnapshot(Watching(x)); err != nil {
			t.Fatal(err)
		}
	}
	reuse.Lock()
	n := len(reuse.last)
	reuse.Unlock()
	if n > maxReused {
		t.Fatalf("%d captures kept, more than %d", n, maxReused)
	}
}

// fpMimeLike is a sync.Map shaped like mime's tables (mime.mimeTypes,
// mime.extensions), which most test binaries fill and every snapshot walks.
var fpMimeLike sync.Map

// BenchmarkSyncMapFingerprint fingerprints a sync.Map of 800 string keys
// and values: per entry, the check that it is no cache entry, the two
// boxed values' plans and their bytes.
func BenchmarkSyncMapFingerprint(b *testing.B) {
	for i := range 800 {
		fpMimeLike.Store(".ext"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), "text/type; charset=utf-8")
	}
	f := fingerprinters.Get().(*fingerprinter)
	defer fingerprinters.Put(f)
	t := reflect.TypeFor[sync.Map]()
	for b.Loop() {
		if _, ok := f.variable(t, unsafe.Pointer(&fpMimeLike)); !ok {
			b.Fatal("not fingerprinted")
		}
	}
}

// A boxed string is mixed without its plan being looked up, into the same
// hash as through the interface's plan.
func TestBoxedStringMixesAsItsPlanWould(t *testing.T) {
	f := newFingerprinter()
	for _, x := range []any{"", "text/html; charset=utf-8", strings.Repeat("x", 100)} {
		f.h = fpK1
		f.boxed(x)
		fast := f.h
		f.h = fpK1
		f.iface(*(*[2]unsafe.Pointer)(unsafe.Pointer(&x)), false)
		if fast != f.h || f.bad {
			t.Errorf("%q: %#x through boxed, %#x through its plan", x, fast, f.h)
		}
	}
}

var fpStrings sync.Map

// memoedFingerprint fingerprints m, a map of what, checks that a memo of
// it was kept and that a walk through the memo mixes the same, and returns
// the fingerprint.
func memoedFingerprint(t *testing.T, m *sync.Map, what string) uint64 {
	t.Helper()
	first := syncMapFingerprint(t, m)
	if syncMapMemos.take(m) == nil {
		t.Fatalf("no memo kept of a map of %s", what)
	}
	syncMapFingerprint(t, m) // builds the memo again
	if syncMapFingerprint(t, m) != first {
		t.Fatal("an unchanged map mixed differently through its memo")
	}
	return first
}

// syncMapFingerprint is the fingerprint of m, walked as a variable is.
func syncMapFingerprint(t *testing.T, m *sync.Map) uint64 {
	t.Helper()
	h, ok := newFingerprinter().variable(reflect.TypeOf(m).Elem(), unsafe.Pointer(m))
	if !ok {
		t.Fatal("no fingerprint")
	}
	return h
}

// A sync.Map of strings walked again with the same boxes mixes its memo;
// any change of what it holds (a value replaced, an entry added or
// deleted) is still seen.
func TestSyncMapMemoSeesEveryChange(t *testing.T) {
	fpStrings.Clear()
	for i := range 2 * minMemoEntries {
		fpStrings.Store(".ext"+strconv.Itoa(i), "type/"+strconv.Itoa(i))
	}
	fp := func() uint64 { t.Helper(); return syncMapFingerprint(t, &fpStrings) }
	first := memoedFingerprint(t, &fpStrings, "strings")
	if memo := syncMapMemos.take(&fpStrings); memo == nil || memo.slots == nil {
		if trie().ok {
			t.Fatal("the memo of a map of strings keeps no slots of its hash-trie")
		}
	} else {
		syncMapMemos.put(&fpStrings, memo)
	}
	fpStrings.Store(".ext7", "type/seven")
	changed := fp()
	if changed == first || fp() != changed {
		t.Fatal("a replaced value was not seen, or not seen the same twice")
	}
	fpStrings.Store(".new", "x")
	if fp() == changed {
		t.Fatal("an added entry was not seen")
	}
	added := fp()
	fpStrings.Delete(".ext3")
	if fp() == added {
		t.Fatal("a deleted entry was not seen")
	}
	fpStrings.Store(".ext3", &fpBox{})
	fp()
	if syncMapMemos.take(&fpStrings) != nil {
		t.Fatal("a memo was kept of a map holding a pointer")
	}
}

var fpExtensions sync.Map

// The same with []string values, as mime's table of extensions by type
// holds: an element written in place, through a slice that shares the
// stored one's array, is seen, though the box is the same.
func TestSyncMapMemoSeesEveryChangeToStringSlices(t *testing.T) {
	fpExtensions.Clear()
	var shared []string
	for i := range 2 * minMemoEntries {
		exts := []string{".a" + strconv.Itoa(i), ".b" + strconv.Itoa(i)}
		if i == 5 {
			shared = exts
		}
		fpExtensions.Store("type/"+strconv.Itoa(i), exts)
	}
	fp := func() uint64 { t.Helper(); return syncMapFingerprint(t, &fpExtensions) }
	first := memoedFingerprint(t, &fpExtensions, "[]string")
	shared[1] = ".c5"
	changed := fp()
	if changed == first || fp() != changed {
		t.Fatal("an element written in place was not seen, or not seen the same twice")
	}
	shared[1] = ".b5"
	if fp() != first {
		t.Fatal("the element written back did not mix as before")
	}
	v, _ := fpExtensions.Load("type/7")
	fpExtensions.Store("type/7", append(v.([]string), ".d7"))
	if fp() == first {
		t.Fatal("a longer slice stored was not seen")
	}
}

// Every type rule has a fingerprint plan: a variable holding a type no
// plan reads is captured again at every snapshot (internal/godebug.Setting,
// held by about fifty variables of the standard library, was).
func TestEveryTypeRuleHasAFingerprintPlan(t *testing.T) {
	layout := map[string]reflect.Type{ // rules that read fields by name
		"os.File":           reflect.TypeOf(os.File{}),
		"net/http.ServeMux": reflect.TypeOf(http.ServeMux{}),
		"sync/atomic types": reflect.TypeOf(atomic.Int64{}),
	}
	for i := range typeRules {
		r := &typeRules[i]
		typ, ok := layout[r.what]
		if !ok {
			typ = reflect.TypeOf(struct{ X int }{})
		}
		p := &fpPlan{typ: typ, size: typ.Size()}
		planRule(p, typ, r)
		if p.kind == fpNotSupported {
			t.Errorf("the rule for %s has no fingerprint plan: its variables are captured at every snapshot", r.what)
		}
	}
}

// The layout of sync.Map's hash-trie is known on the releases residue
// supports, so that a memo of a map of strings compares its slots (trie.go).
func TestTrieLayoutIsKnown(t *testing.T) {
	v := runtime.Version()
	if !strings.HasPrefix(v, "go1.26") && !strings.HasPrefix(v, "go1.27") {
		t.Skipf("%s: the layout is checked, not required", v)
	}
	if !trie().ok {
		t.Fatalf("%s: the layout of sync.Map's hash-trie is not the one trie.go reads", v)
	}
}

// A map cleared and filled again has new slots: the memo's are not taken
// for them, and what is stored after is seen.
func TestSyncMapMemoAfterClear(t *testing.T) {
	var m sync.Map
	fill := func() {
		for i := range 2 * minMemoEntries {
			m.Store(".ext"+strconv.Itoa(i), "type/"+strconv.Itoa(i))
		}
	}
	fill()
	first := memoedFingerprint(t, &m, "strings")
	m.Clear()
	if syncMapFingerprint(t, &m) == first {
		t.Fatal("a cleared map mixed as before")
	}
	fill()
	refilled := memoedFingerprint(t, &m, "strings")
	m.Store(".ext1", "other")
	if syncMapFingerprint(t, &m) == refilled {
		t.Fatal("a replaced value was not seen after the map was filled again")
	}
}

// mime.extensions, whose []string values are append-only (appendOnlyValues),
// keeps the slots of its hash-trie in its memo once in scope: a check reads
// none of its elements. Its values are replaced, not written, when mime
// learns an extension, and that is seen.
func TestAppendOnlyValuesAreComparedBySlots(t *testing.T) {
	if !trie().ok {
		t.Skip("the layout of sync.Map's hash-trie is not the one trie.go reads")
	}
	vars := defaultScopeVariables(t)
	i := slices.IndexFunc(vars, func(v scoped) bool { return v.Name == "mime.extensions" })
	if i < 0 || vars[i].reuse == nil {
		t.Fatal("mime.extensions is not a variable in scope whose capture is reused")
	}
	m := (*sync.Map)(vars[i].at)
	// Types enough for a memo, where the system has no mime.types.
	for i := range minMemoEntries {
		if err := mime.AddExtensionType(".residue-"+strconv.Itoa(i), "application/x-residue-"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	fp := func() uint64 { t.Helper(); return syncMapFingerprint(t, m) }
	first := fp()
	fp()
	memo := syncMapMemos.take(m)
	if memo == nil || memo.slots == nil || len(memo.elems) == 0 {
		t.Fatalf("the memo of mime.extensions keeps no slots (memo %v)", memo != nil)
	}
	syncMapMemos.put(m, memo)
	if err := mime.AddExtensionType(".residue-append-only", "application/x-residue-append-only"); err != nil {
		t.Fatal(err)
	}
	if fp() == first {
		t.Fatal("an extension mime learned was not seen")
	}

	// A map of []strings not in the table keeps no slots: an element
	// written in place must be seen (TestSyncMapMemoSeesEveryChangeToStringSlices).
	var other sync.Map
	for i := range 2 * minMemoEntries {
		other.Store("type/"+strconv.Itoa(i), []string{".a" + strconv.Itoa(i)})
	}
	memoedFingerprint(t, &other, "[]string")
	syncMapFingerprint(t, &other)
	if memo := syncMapMemos.take(&other); memo == nil || memo.slots != nil {
		t.Fatalf("a map of []strings outside appendOnlyValues kept slots (memo %v)", memo != nil)
	}
}

// A fingerprint keeps nothing it met alive once its walk is over: what a
// variable pointed to is freed once the program drops it. (Its map of
// pointers met, kept from walk to walk, held them until it was cleared,
// and every GC cycle marked it.)
func TestAFingerprintKeepsNothingAlive(t *testing.T) {
	type node struct {
		next *node
		pad  [8]int
	}
	type box struct{ next *node }
	obj := &node{}
	v := &box{next: obj}
	w := weak.Make(obj)
	f := newFingerprinter()
	if _, ok := f.variable(reflect.TypeOf(*v), unsafe.Pointer(v)); !ok {
		t.Fatal("no fingerprint")
	}
	v.next, obj = nil, nil
	runtime.GC()
	runtime.GC()
	if w.Value() != nil {
		t.Fatal("an object the fingerprint met was kept alive after the program dropped it")
	}
	runtime.KeepAlive(f)
	runtime.KeepAlive(v)
}
