package globals_test

import (
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"reflect"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/residue-go/residue/globals"
)

const thisPackage = "github.com/residue-go/residue/globals_test"

type node struct {
	Name string
	next *node
}

type shape interface{ Area() float64 }

type square struct{ side float64 }

func (s square) Area() float64 { return s.side * s.side }

type circle struct{ r float64 }

func (c circle) Area() float64 { return 3 * c.r * c.r }

// lazyTable is filled by a sync.Once on first use, like the caches of the
// standard library.
type lazyTable struct {
	once  sync.Once
	table map[string]int
}

func (l *lazyTable) get(k string) int {
	l.once.Do(func() { l.table = map[string]int{"a": 1, "b": 2} })
	return l.table[k]
}

var (
	config = struct {
		Timeout time.Duration
		secret  string
		Tags    []string
	}{Timeout: 5 * time.Second, secret: "s1"}
	registry        = map[string]int{}
	ring            = &node{Name: "a"}
	current   shape = square{2}
	events          = make(chan int)
	hook            = func() {}
	lazy      lazyTable
	typeCache = map[reflect.Type]string{}
	counter   int
	// Memo tables keyed by a type's address, as json-iterator's and
	// reflect2's (a sync.Map by uintptr) and go-toml's (a map by
	// unsafe.Pointer, swapped whole in an atomic.Value) are.
	addrCache     sync.Map
	addrPathCache atomic.Value // map[typeID]string
	// And ugorji's codec keeps a sorted slice of its type infos by the
	// type's address, behind an atomic.Pointer.
	addrInfos atomic.Pointer[[]addrInfo]
)

type addrInfo struct {
	rtid uintptr
	info string
}

type typeID unsafe.Pointer

// typeWord is the address of x's run-time type, as those libraries take it
// from an interface's first word.
func typeWord(x any) unsafe.Pointer { return (*[2]unsafe.Pointer)(unsafe.Pointer(&x))[0] }

func init() { ring.next = ring } // a cycle

// find runs block with the variables of this package in scope.
func find(t *testing.T, block func(), opts ...globals.Option) *globals.Report {
	t.Helper()
	r, err := globals.Find(block, append([]globals.Option{globals.InPackages(thisPackage)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func lines(r *globals.Report) string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.String())
	}
	return strings.Join(out, "\n")
}

func TestReportsByPathIncludingUnexportedFields(t *testing.T) {
	defer func(old time.Duration, s string) { config.Timeout, config.secret = old, s }(config.Timeout, config.secret)
	r := find(t, func() {
		config.Timeout = 10 * time.Second
		config.secret = "s2"
	})
	want := thisPackage + ".config.Timeout: 5s → 10s\n" + thisPackage + `.config.secret: "s1" → "s2"`
	if got := lines(r); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestMapsCompareByContentNotOrder(t *testing.T) {
	defer clear(registry)
	for i := 0; i < 200; i++ {
		registry[strconv.Itoa(i)] = i
	}
	r := find(t, func() {
		// Rebuild the same content in another insertion order.
		clear(registry)
		for i := 199; i >= 0; i-- {
			registry[strconv.Itoa(i)] = i
		}
	})
	if len(r.Changes) > 0 {
		t.Errorf("an equal map was reported:\n%s", r)
	}
	r = find(t, func() {
		registry["new"] = 1
		delete(registry, "7")
		registry["8"] = 80
	})
	want := thisPackage + `.registry: added "new": 1` + "\n" +
		thisPackage + `.registry: removed "7": 7` + "\n" +
		thisPackage + `.registry["8"]: 8 → 80`
	if got := lines(r); !sameLines(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(x) != len(y) {
		return false
	}
	seen := map[string]int{}
	for _, l := range x {
		seen[l]++
	}
	for _, l := range y {
		if seen[l] == 0 {
			return false
		}
		seen[l]--
	}
	return true
}

func TestPointersAreFollowedThroughCycles(t *testing.T) {
	defer func() { ring.Name = "a" }()
	r := find(t, func() { ring.next.next.Name = "b" })
	if got, want := lines(r), thisPackage+`.ring.Name: "a" → "b"`; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestInterfacesCompareByDynamicTypeAndValue(t *testing.T) {
	defer func() { current = square{2} }()
	if r := find(t, func() { current = square{3} }); lines(r) != thisPackage+".current.side: 2 → 3" {
		t.Errorf("same type, new value:\n%s", r)
	}
	current = square{2}
	if r := find(t, func() { current = circle{2} }); lines(r) != thisPackage+".current: globals_test.square{side: 2} → globals_test.circle{r: 2}" {
		t.Errorf("new dynamic type:\n%s", r)
	}
}

func TestChannelsAndFuncsCompareByIdentity(t *testing.T) {
	oldEvents, oldHook := events, hook
	defer func() { events, hook = oldEvents, oldHook }()
	r := find(t, func() {
		events = make(chan int)
		hook = func() {}
	})
	got := lines(r)
	if !strings.Contains(got, thisPackage+".events: chan int(0x") || !strings.Contains(got, thisPackage+".hook: ") {
		t.Errorf("replaced channel and func not reported:\n%s", got)
	}
}

// A GODEBUG setting counts the uses of its non-default behaviour (which a
// module whose go line is older than its toolchain's gets): a metric, not
// state.
func TestGodebugSettingsAreNotState(t *testing.T) {
	t.Setenv("GODEBUG", "asynctimerchan=1")
	time.NewTimer(time.Hour).Stop() // the first use registers the count: a sync.Once's work
	r, err := globals.Find(func() { time.NewTimer(time.Hour).Stop() }, globals.InPackages("time"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) > 0 {
		t.Errorf("a non-default use was taken for a change:\n%s", r)
	}
}

func TestWorkOfAOnceIsLazyInitialisation(t *testing.T) {
	if r := find(t, func() { lazy.get("a") }); len(r.Changes) > 0 {
		t.Errorf("a sync.Once filling its table was reported:\n%s", r)
	}
	defer delete(lazy.table, "c")
	if r := find(t, func() { lazy.table["c"] = 3 }); lines(r) != thisPackage+`.lazy.table: added "c": 3` {
		t.Errorf("a change after the once had fired was not reported:\n%s", r)
	}
}

func TestMapsKeyedByTypeAreCaches(t *testing.T) {
	defer clear(typeCache)
	if r := find(t, func() { typeCache[reflect.TypeOf(0)] = "int" }); len(r.Changes) > 0 {
		t.Errorf("a memo table keyed by type was reported:\n%s", r)
	}
}

func TestMemoTablesKeyedByTypeAddressAreCaches(t *testing.T) {
	defer addrCache.Clear()
	defer addrPathCache.Store(map[typeID]string(nil))
	defer addrInfos.Store(nil)
	if r := find(t, func() {
		addrCache.Store(uintptr(typeWord(0)), "int")
		addrCache.Store(uintptr(typeWord(config)), "config")
		addrPathCache.Store(map[typeID]string{typeID(typeWord("")): "string"})
		addrInfos.Store(&[]addrInfo{{uintptr(typeWord(0)), "int"}, {uintptr(typeWord("")), "string"}})
	}); len(r.Changes) > 0 {
		t.Errorf("memo tables keyed by a type's address were reported:\n%s", r)
	}
	// A key that is no type's address is state.
	x := new(int)
	r := find(t, func() {
		addrCache.Store(uintptr(7), "seven")
		addrPathCache.Store(map[typeID]string{typeID(x): "x"})
		addrInfos.Store(&[]addrInfo{{uintptr(typeWord(0)), "int"}, {7, "seven"}})
	})
	if got := lines(r); !strings.Contains(got, thisPackage+".addrCache: added 7") || !strings.Contains(got, thisPackage+".addrPathCache") || !strings.Contains(got, thisPackage+".addrInfos") {
		t.Errorf("entries keyed by other numbers and pointers were not reported:\n%s", got)
	}
	runtime.KeepAlive(x)
}

func TestIgnoring(t *testing.T) {
	defer func() { counter = 0; clear(registry) }()
	r := find(t, func() {
		counter++
		registry["x"] = 1
	}, globals.Ignoring(thisPackage+".counter"))
	if got := lines(r); got != thisPackage+`.registry: added "x": 1` {
		t.Errorf("got\n%s", got)
	}
}

func TestWatching(t *testing.T) {
	defer func() { counter = 0 }()
	r, err := globals.Find(func() { counter = 7 }, globals.Watching(&counter))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(r); got != thisPackage+".counter: 0 → 7" {
		t.Errorf("got\n%s", got)
	}
	if _, err := globals.Find(func() {}, globals.Watching(counter)); err == nil || !strings.Contains(err.Error(), "non-nil pointers") {
		t.Errorf("a non-pointer was accepted: %v", err)
	}
}

func TestLongReportsAreCappedPerVariable(t *testing.T) {
	defer clear(registry)
	r := find(t, func() {
		for i := 0; i < 25; i++ {
			registry["k"+strconv.Itoa(i)] = i
		}
	})
	s := r.String()
	if !strings.HasPrefix(s, "The block changed 1 package-level variable (25 changes):") ||
		!strings.Contains(s, "… and 15 more changes to "+thisPackage+".registry") {
		t.Errorf("report not capped:\n%s", s)
	}
}

func TestProcessState(t *testing.T) {
	wd := t.TempDir()
	old, _ := globals.Take(globals.Watching(&counter))
	t.Setenv("RESIDUE_GLOBALS_TEST", "1")
	t.Chdir(wd)
	now, _ := globals.Take(globals.Watching(&counter))
	got := globals.Compare(old, now).String()
	for _, want := range []string{`environment: added $RESIDUE_GLOBALS_TEST="1"`, `working directory: "`, strconv.Quote(wd)} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestDefaultScope(t *testing.T) {
	for pkg, want := range map[string]bool{
		// main is go test's own package in a test binary (a program's main
		// package is read: the fresh-process scenarios).
		"mime": true, "net/http": true, "example.com/app": true, "main": false,
		thisPackage: true, "github.com/residue-go/residue/examples/globals": true,
		"runtime": false, "sync": false, "internal/godebug": false, "vendor/golang.org/x/net/http2/hpack": false,
		"net/http/internal": false, "github.com/onsi/ginkgo/v2/internal": false, "github.com/onsi/gomega": false,
	} {
		if got := globals.DefaultScope(pkg); got != want {
			t.Errorf("DefaultScope(%q) = %v, want %v", pkg, got, want)
		}
	}
}

func TestIndexOfAnotherBinary(t *testing.T) {
	ix, err := globals.OpenIndex(scenarioBinary(t, "-w=0"))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ix.Variables(func(p string) bool { return p == "main" || p == "mime" })
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, v := range vs {
		names[v.Name] = true
	}
	for _, want := range []string{"main.userMap", "main.userSettings", "mime.mimeTypes"} {
		if !names[want] {
			t.Errorf("%s not listed; got %v", want, names)
		}
	}
	if _, err := globals.OpenIndex(scenarioBinary(t, "-s -w")); err == nil || !strings.Contains(err.Error(), "go test -ldflags=-w=0 ./...") {
		t.Errorf("a stripped binary gave %v", err)
	}
}

// ServeMuxForTest is a package-level mux the test registers routes on.
var ServeMuxForTest = http.NewServeMux()

func helloHandler(http.ResponseWriter, *http.Request) {}

func TestServeMuxIsReportedByPattern(t *testing.T) {
	r, err := globals.Find(func() {
		ServeMuxForTest.HandleFunc("/hello", helloHandler)
		ServeMuxForTest.Handle("GET /files/", http.FileServer(http.Dir(".")))
	}, globals.InPackages("github.com/residue-go/residue/globals_test"))
	if err != nil {
		t.Fatal(err)
	}
	got := r.String()
	for _, want := range []string{
		`globals_test.ServeMuxForTest.patterns: added "/hello": github.com/residue-go/residue/globals_test.helloHandler`,
		`globals_test.ServeMuxForTest.patterns: added "GET /files/": *http.fileHandler`,
		"(2 changes)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// A block that changes a process setting is reported by the setting's
// name, like the environment and the working directory.
func TestProcessSettingsAreReported(t *testing.T) {
	old := runtime.GOMAXPROCS(0)
	defer runtime.GOMAXPROCS(old)
	want := runtime.GOMAXPROCS(0) + 1
	report, err := globals.Find(func() { runtime.GOMAXPROCS(want) }, globals.InPackages("github.com/residue-go/residue/globals_test"))
	if err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("GOMAXPROCS: %d → %d", old, want)
	if !strings.Contains(report.String(), line) || !strings.Contains(report.String(), "The block changed process settings") {
		t.Fatalf("want %q in:\n%s", line, report)
	}
	runtime.GOMAXPROCS(old)
	report, err = globals.Find(func() { runtime.GOMAXPROCS(want) },
		globals.InPackages("github.com/residue-go/residue/globals_test"), globals.Ignoring("process settings"))
	if err != nil || len(report.Changes) > 0 {
		t.Fatalf("Ignoring(\"process settings\"): %v\n%s", err, report)
	}
}

// A pattern that matches no package of the binary is an error, not a
// check of nothing.
func TestInPackagesMatchingNothingIsAnError(t *testing.T) {
	_, err := globals.Find(func() {}, globals.InPackages("github.com/residue-go/residue/globals_test", "example.com/no-such-package/..."))
	if err == nil || !strings.Contains(err.Error(), `no package of this binary matches "example.com/no-such-package/..."`) {
		t.Fatalf("err = %v", err)
	}
}

// net keeps /etc/hosts, /etc/resolv.conf and /etc/nsswitch.conf in caches
// it looks at again once they are 5 seconds old: a lookup then is not a
// change (gin's TestRunQUIC was blamed for net.hosts.expire).
func TestNetResolverCachesAreNotState(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out net's 5 s cache age")
	}
	t.Parallel()
	_, _ = net.LookupHost("localhost")
	time.Sleep(5100 * time.Millisecond)
	r, err := globals.Find(func() { _, _ = net.LookupHost("localhost") }, globals.InPackages("net"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) > 0 {
		t.Errorf("a cache refresh was taken for a change:\n%s", r)
	}
}

// seededMathRand says whether TestReseedingMathRandIsReported has run.
var seededMathRand bool

// rand.Seed, where it still seeds (a module whose go line is before 1.24,
// or GODEBUG randseednop=0), replaces math/rand's global generator: every
// later test draws another sequence. It is reported, by the generator's
// type rather than the atomic.Pointer's layout; the generator's first use
// (nil to set) and its state advancing are not. Only the first Seed
// replaces the generator; later ones seed it again in place, which is not
// told apart from its state advancing (docs/globals.md).
func TestReseedingMathRandIsReported(t *testing.T) {
	if seededMathRand {
		t.Skip("rand.Seed replaces the generator once per process; this process has seen it (-count)")
	}
	seededMathRand = true
	t.Setenv("GODEBUG", "randseednop=0")
	_ = rand.Int() // the global generator is set from here on
	if r, err := globals.Find(func() { _ = rand.Int() }, globals.InPackages("math/rand")); err != nil {
		t.Fatal(err)
	} else if len(r.Changes) > 0 {
		t.Errorf("drawing a number was reported:\n%s", r)
	}
	r, err := globals.Find(func() { rand.Seed(1) }, globals.InPackages("math/rand"))
	if err != nil {
		t.Fatal(err)
	}
	got := lines(r)
	want := regexp.MustCompile(`^math/rand\.globalRandGenerator: \(\*rand\.Rand\)\(0x[0-9a-f]+\) → \(\*rand\.Rand\)\(0x[0-9a-f]+\)$`)
	if !want.MatchString(got) {
		t.Errorf("rand.Seed reported as\n%s\nwant a line matching %s", got, want)
	}
}
