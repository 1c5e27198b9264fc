package globals_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/residue-go/residue/globals"
)

// The standard library's crypto caches, in this process, where they are
// not new: every new key still adds an entry, and an entry goes when its key
// is freed. (The first use in a fresh process is TestCleanBlocksInFreshProcessesReportNothing.)

var cryptoPackages = globals.InPackages("crypto/ecdsa", "crypto/ed25519", "crypto/elliptic", "crypto/tls", thisPackage)

func signWithNewKeys(t *testing.T) (*ecdsa.PrivateKey, ed25519.PrivateKey) {
	t.Helper()
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("residue"))
	if _, err := ecdsa.SignASN1(rand.Reader, ek, sum[:]); err != nil {
		t.Fatal(err)
	}
	_, dk, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_ = ed25519.Sign(dk, []byte("residue"))
	return ek, dk
}

func TestCryptoKeyCacheEntriesAreNotReported(t *testing.T) {
	defer delete(registry, "crypto")
	var keys []any
	r := find(t, func() {
		ek, dk := signWithNewKeys(t)
		keys = append(keys, ek, dk) // the entries stay while the keys live
		registry["crypto"] = 1
	}, cryptoPackages)
	if got, want := lines(r), thisPackage+`.registry: added "crypto": 1`; got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	runtime.KeepAlive(keys)
}

func TestEvictedCryptoKeyCacheEntriesAreNotReported(t *testing.T) {
	ek, dk := signWithNewKeys(t)
	// The caches remove an entry in a cleanup of the key's memory (the
	// ecdsa.PrivateKey, the ed25519 key's first byte); so does this test,
	// to know when the caches' cleanups are due.
	var freed atomic.Int32
	runtime.AddCleanup(ek, func(*atomic.Int32) { freed.Add(1) }, &freed)
	runtime.AddCleanup(&dk[0], func(*atomic.Int32) { freed.Add(1) }, &freed)
	ek, dk = nil, nil
	r := find(t, func() {
		for i := 0; i < 200 && freed.Load() < 2; i++ {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		if freed.Load() < 2 {
			t.Error("the keys were never freed")
		}
		time.Sleep(20 * time.Millisecond) // the caches' own cleanups, on other cleanup goroutines
	}, cryptoPackages)
	if len(r.Changes) > 0 {
		t.Errorf("cache entries removed when their keys were freed were reported:\n%s", r)
	}
}

// The rule for a package-level sync.Once (filledByOnce) in a package of
// this test: the parts of a variable that were zero and that a firing Once
// set are its work; with no Once fired, or for a part that was set, the
// change is reported.
type curve struct {
	name   string
	params *int
}

var (
	curveOnce sync.Once
	lazyCurve = &curve{name: "c"}
)

func TestAPackageOnceFillsWhatWasZero(t *testing.T) {
	reset := func() { curveOnce, lazyCurve.name, lazyCurve.params = sync.Once{}, "c", nil }
	defer reset()
	v := 1
	for _, c := range []struct {
		name  string
		block func()
		want  string
	}{
		{"filled by the Once", func() { curveOnce.Do(func() { lazyCurve.params = &v }) }, ""},
		{"filled without a Once", func() { lazyCurve.params = &v }, thisPackage + ".lazyCurve.params: nil → &1"},
		{"set part changed beside the Once", func() {
			curveOnce.Do(func() { lazyCurve.params = &v })
			lazyCurve.name = "d"
		}, thisPackage + `.lazyCurve.name: "c" → "d"`},
	} {
		reset()
		r := find(t, c.block)
		if got := lines(r); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}

// A variable the binary gives a value when it loads (initialised data
// without pointers) is to the rule what a zero one is: logrus's
// minimumCallerDepth, 1 until the first caller report sets it under a Once.
// One changed since the program was loaded is not, with or without a Once.
var (
	depthOnce   sync.Once
	callerDepth = 1
)

func TestAPackageOnceSetsWhatHeldItsLoadedValue(t *testing.T) {
	reset := func() { depthOnce, callerDepth = sync.Once{}, 1 }
	defer reset()
	for _, c := range []struct {
		name   string
		before int
		block  func()
		want   string
	}{
		{"set by the Once", 1, func() { depthOnce.Do(func() { callerDepth = 4 }) }, ""},
		{"set without a Once", 1, func() { callerDepth = 4 }, thisPackage + ".callerDepth: 1 → 4"},
		{"changed since loading, then set by the Once", 3, func() { depthOnce.Do(func() { callerDepth = 4 }) }, thisPackage + ".callerDepth: 3 → 4"},
	} {
		reset()
		callerDepth = c.before
		r := find(t, c.block)
		if got := lines(r); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", c.name, got, c.want)
		}
	}
}
