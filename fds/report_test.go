//go:build linux

package fds_test

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/residue-go/residue/fds"
	"github.com/residue-go/residue/internal/probes"
)

// TestManyDescriptorsFromOneLineMakeAShortMessage leaks thousands of pipes
// from one line: the count is exact, the stack is shown once, and only the
// first few numbers are listed.
func TestManyDescriptorsFromOneLineMakeAShortMessage(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil && rl.Cur < 4500 {
		rl.Cur = min(rl.Max, 4500)
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	const pairs = 2000
	var left closer
	defer left.close()
	var line int
	r, err := fds.Find(func() {
		for range pairs {
			line = nextLine()
			pr, pw, err := os.Pipe()
			if err != nil {
				panic(err)
			}
			left.keep(pr)
			left.keep(pw)
		}
	}, fds.Within(0))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.FDs) != 2*pairs {
		t.Fatalf("%d descriptors reported, want %d", len(r.FDs), 2*pairs)
	}
	msg := r.String()
	t.Logf("%d descriptors, a message of %d bytes", len(r.FDs), len(msg))
	if len(msg) > 4000 {
		t.Errorf("the message is %d bytes:\n%s", len(msg), msg[:4000])
	}
	for _, want := range []string{"The block left 4000 file descriptors open", "… and 3995 more opened the same way", "opened by the block at " + openedAt(&r.FDs[0]).Location()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if n := strings.Count(msg, "stack that opened it"); n != 1 {
		t.Errorf("%d stacks shown, want 1:\n%s", n, msg)
	}
	var total int
	for _, f := range fds.FindingsOf(r) {
		total += f.Count
	}
	if total != 2*pairs || len(fds.FindingsOf(r)) != 1 {
		t.Errorf("findings %+v", fds.FindingsOf(r))
	}
	if at := openedAt(&r.FDs[0]); at.Line != line {
		t.Errorf("opened at %s, want line %d", at.Location(), line)
	}
}

// A report made once nothing could run says so in its headline, with how
// many of its descriptors were dropped.
func TestAStilledReportSaysWhyItDidNotWait(t *testing.T) {
	r := &fds.Report{FDs: []fds.FD{{Num: 5, Kind: "pipe", Dropped: true}, {Num: 6, Kind: "pipe"}}, Within: time.Second, Stilled: true}
	want := "The block left 2 file descriptors open (reported without waiting out the 1s settle window: nothing in the process could run before it ended; 1 dropped without Close):\n"
	if got := r.String(); !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
	}
	r.FDs = r.FDs[1:]
	want = "The block left 1 file descriptor open (reported without waiting out the 1s settle window: nothing in the process could run before it ended):\n"
	if got := r.String(); !strings.HasPrefix(got, want) {
		t.Errorf("got\n%s\nwant it to start with\n%s", got, want)
	}
}

// A nil report reads as a clean one, and a clean one whose run let the
// finalizer queue go says what it may have missed.
func TestCleanReportsSayWhatTheyMayHaveMissed(t *testing.T) {
	if got := (*fds.Report)(nil).String(); got != "The block left no file descriptors open." {
		t.Errorf("nil report: %q", got)
	}
	if got := (&fds.Report{SocketsOnly: true, Held: true}).String(); got != "The block left no sockets open." {
		t.Errorf("held: %q", got)
	}
	got := (&fds.Report{}).String()
	if !strings.HasPrefix(got, "The block left no file descriptors open.\n(the finalizer queue was let go") {
		t.Errorf("let go: %q", got)
	}
}

// A descriptor opened at one of several places is keyed as such, whatever
// the places and their order: they follow the memory profile's records at
// the moment of the attribution, and a baseline must match from run to run.
func TestADescriptorOfSeveralPlacesHasOneKey(t *testing.T) {
	at := func(fns ...string) []probes.Frame {
		var out []probes.Frame
		for _, fn := range fns {
			out = append(out, probes.Frame{Func: fn, File: "x.go", Line: 1})
		}
		return out
	}
	dial := at("net.socket", "net/http.(*Transport).dialConn", "net/http.(*Transport).startDialConnForLocked.func1")
	listen := at("net.socket", "net.Listen", "example.com/app.TestServe.func4")
	accepted := at("net.socket", "net.(*TCPListener).Accept", "example.com/app.serve")
	socket := &fds.Socket{Name: "tcp4"}
	keyOf := func(alts ...[]probes.Frame) string {
		f := fds.FindingsOf(&fds.Report{FDs: []fds.FD{{Num: 8, Kind: "socket", Socket: socket, OpenedAt: alts}}})
		if len(f) != 1 {
			t.Fatalf("findings %+v", f)
		}
		return f[0].Key
	}
	want := "tcp4 opened at one of several places"
	for _, alts := range [][][]probes.Frame{{dial, listen}, {listen, dial}, {dial, accepted, listen}} {
		if got := keyOf(alts...); got != want {
			t.Errorf("key %q, want %q", got, want)
		}
	}
	one := fds.FindingsOf(&fds.Report{FDs: []fds.FD{{Num: 8, Kind: "socket", Socket: socket, Opened: dial}}})
	if len(one) != 1 || one[0].Key != "tcp4 opened by net/http.(*Transport).startDialConnForLocked.func1" {
		t.Errorf("findings %+v", one)
	}
}
