package stack

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"
)

// A dump as Go 1.27's goroutineleak profile writes it, with GOTRACEBACK
// ancestry, a locked goroutine, a long wait and elided frames.
const sample = `goroutine 1 [running]:
main.main()
	/tmp/exp1/main.go:20 +0xf0

goroutine 19 [chan receive (leaked), 3 minutes, locked to thread]:
main.main.func1.1()
	/tmp/exp1/main.go:15 +0x19
created by main.main.func1 in goroutine 1
	/tmp/exp1/main.go:15 +0x5f

goroutine 20 [sleep]:
time.Sleep(0x34630b8a000)
	/usr/local/go/src/runtime/time.go:368 +0x165
net/http.(*conn).serve(0xc000114000, {0x5eba98, 0xc00010e000})
	/usr/local/go/src/net/http/server.go:2000 +0x1d
...additional frames elided...
created by main.main.func1 in goroutine 19
	/tmp/exp1/main.go:16 +0x6b
[originating from goroutine 19]:
main.other(...)
	/tmp/exp1/main.go:99 +0x1

goroutine 21 gp=0xc000007180 m=nil [select (no cases)]:
main.Map[...](0x1)
	/tmp/x.go:3 +0x1
created by main.main in goroutine 1
	/tmp/x.go:2 +0x2`

func TestParseDumpFields(t *testing.T) {
	gs := ParseDump(sample)
	if len(gs) != 4 {
		t.Fatalf("got %d goroutines, want 4", len(gs))
	}
	for i := range gs {
		gs[i].ParseFrames()
	}
	g := gs[1]
	if g.ID != 19 || g.State != "chan receive" || !g.Leaked || !g.Locked || g.Wait != 3*time.Minute {
		t.Errorf("header of goroutine 19 parsed as %+v", g)
	}
	if g.TopFunction() != "main.main.func1.1" || g.Frames[0].Location() != "/tmp/exp1/main.go:15" {
		t.Errorf("frames of goroutine 19: %+v", g.Frames)
	}
	if g.CreatedBy.Func != "main.main.func1" || g.CreatorID != 1 || g.CreatedBy.Line != 15 {
		t.Errorf("creator of goroutine 19: %+v in %d", g.CreatedBy, g.CreatorID)
	}
	g = gs[2]
	if len(g.Frames) != 2 || g.Frames[1].Func != "net/http.(*conn).serve" || !g.Elided || g.CreatorID != 19 {
		t.Errorf("goroutine 20: ancestry frames or elision mishandled: %+v", g)
	}
	g = gs[3]
	if g.ID != 21 || g.State != "select (no cases)" || g.TopFunction() != "main.Map[...]" {
		t.Errorf("goroutine 21 (GOTRACEBACK=system header, generic function): %+v", g)
	}
}

func TestIDs(t *testing.T) {
	ids := IDs([]byte(sample))
	if len(ids) != 4 || !ids[1] || !ids[19] || !ids[20] || !ids[21] {
		t.Errorf("IDs = %v", ids)
	}
	if len(IDs(nil)) != 0 || len(IDs([]byte("garbage\n\ngoroutine x"))) != 0 {
		t.Error("IDs of text without goroutines")
	}
}

func TestParseDumpDefersFrames(t *testing.T) {
	gs := ParseDump(sample)
	if g := gs[2]; len(g.Frames) != 0 || g.CreatorID != 19 || g.CreatedBy.Line != 16 {
		t.Errorf("frames should wait for ParseFrames, the creator should not: %+v", g)
	}
	gs[2].ParseFrames()
	if len(gs[2].Frames) != 2 {
		t.Errorf("ParseFrames: %+v", gs[2].Frames)
	}
}

func TestParseNeverPanics(t *testing.T) {
	inputs := []string{"", "\n\n", "goroutine", "goroutine x [", "goroutine 1 [a]:\n", "goroutine 1 [a]:\ncreated by",
		"goroutine 1 [a]:\nf(\n\t:x +0x", "garbage\n\ngoroutine 2 [b]:\nmain.f()\n", "goroutine 3 [running]:\n\tgoroutine running on other thread; stack unavailable"}
	for _, in := range inputs {
		gs := ParseDump(in)
		for _, g := range gs {
			g.ParseFrames()
			if g.ID == 0 && g.Raw == "" && strings.TrimSpace(in) != "" {
				t.Errorf("%q: unknown text lost instead of kept raw: %+v", in, g)
			}
		}
		ParseProfile([]byte(in))
		IDs([]byte(in))
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Fuzz(func(t *testing.T, s string) {
		for _, g := range ParseDump(s) {
			g.Key()
		}
		IDs([]byte(s))
		ParseProfile([]byte(s))
	})
}

// TestKeysMatchAcrossForms checks, on the running runtime, that a goroutine
// in the full dump and its group in the labelled profile get the same key:
// the join that tells a block's goroutines apart depends on it.
func TestKeysMatchAcrossForms(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	pprof.Do(context.Background(), pprof.Labels("stack-test", "x"), func(context.Context) {
		go parkHere(stop)
	})
	time.Sleep(10 * time.Millisecond)
	var prof bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&prof, 1)
	var want string
	for _, g := range ParseProfile(prof.Bytes()) {
		if g.HasLabel("stack-test") {
			want = g.Key()
		}
	}
	if !strings.Contains(want, "internal/stack.parkHere") {
		t.Fatalf("labelled group not found or without the parked frame: %q", want)
	}
	buf := make([]byte, 1<<20)
	for _, g := range ParseDump(string(buf[:runtime.Stack(buf, true)])) {
		if g.TopFunction() == "github.com/residue-go/residue/internal/stack.parkHere" {
			if g.Key() != want {
				t.Fatalf("dump key %q differs from profile key %q", g.Key(), want)
			}
			return
		}
	}
	t.Fatal("parked goroutine missing from the dump")
}

//go:noinline
func parkHere(stop chan struct{}) { <-stop }

func TestFullDumpGrowsPastASmallBuffer(t *testing.T) {
	stop := make(chan struct{})
	defer close(stop)
	for range 200 {
		go func() { <-stop }()
	}
	small := make([]byte, 0, 16)
	dump := FullDump(small)
	if n := len(ParseDump(string(dump))); n < 201 {
		t.Fatalf("%d goroutines in the dump, want at least 201", n)
	}
	if !strings.Contains(string(dump), "TestFullDumpGrowsPastASmallBuffer") {
		t.Fatalf("the calling goroutine is missing from the dump")
	}
	big := make([]byte, 0, 4<<20)
	if d := FullDump(big); &d[0] != &big[:1][0] {
		t.Errorf("a dump that fits is not written into the given buffer")
	}
}

// WaitsInTesting tells a test paused by t.Parallel from a goroutine blocked
// in the test's own code and from the goroutine looking, in a real dump.
func TestWaitsInTesting(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	var paused string
	t.Run("paused", func(t *testing.T) {
		paused = t.Name()
		t.Parallel() // waits here until the parent test function returns
	})
	blocked := make(chan uint64)
	go func() {
		blocked <- CurrentID()
		<-release
	}()
	blockedID := <-blocked
	self := CurrentID()
	var sawPaused, sawBlocked, sawSelf bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !(sawPaused && sawBlocked && sawSelf); {
		sawPaused, sawBlocked, sawSelf = false, false, false
		for _, g := range ParseDump(string(FullDump(nil))) {
			switch {
			case g.ID == self:
				sawSelf = true
				if g.WaitsInTesting() {
					t.Errorf("the running goroutine waits in testing:\n%s", g.Raw)
				}
			case g.ID == blockedID:
				sawBlocked = g.State == "chan receive"
				if sawBlocked && g.WaitsInTesting() {
					t.Errorf("a goroutine blocked in the test's code waits in testing:\n%s", g.Raw)
				}
			case strings.Contains(g.Raw, "testing.(*T).Parallel") && g.CreatorID == self:
				sawPaused = true
				if !g.WaitsInTesting() {
					t.Errorf("subtest %s, paused by t.Parallel, does not wait in testing:\n%s", paused, g.Raw)
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
	if !sawPaused || !sawBlocked || !sawSelf {
		t.Fatalf("not seen in the dumps: paused subtest %v, blocked goroutine %v, self %v", sawPaused, sawBlocked, sawSelf)
	}
}
