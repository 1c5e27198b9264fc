package probes_test

import (
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/fds"
	_ "github.com/residue-go/residue/globals" // reads the debug info the runtime's timers are found by
	"github.com/residue-go/residue/internal/combined"
	"github.com/residue-go/residue/internal/debuginfo"
	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/leak"
)

// stillCase names the scenario a child process of this test binary runs.
const stillCase = "RESIDUE_TEST_STILL_CASE"

// A settle window ends early when nothing in the process can run before it
// would end, and only then. Each case runs in a child process of its own,
// where no other test's goroutines or timers are about.
func TestAWindowEndsEarlyOnlyWhenNothingCanRun(t *testing.T) {
	if name := os.Getenv(stillCase); name != "" {
		stillCases[name](t)
		return
	}
	if _, ok := debuginfo.Offsets("runtime.allp", "timers"); !ok {
		if os.Getenv(env.RequireGlobals) == "1" {
			t.Fatal("runtime.allp not found: the binary has no debug info (go test -ldflags=-w=0)")
		}
		t.Skip("the binary has no debug info: go test -ldflags=-w=0")
	}
	if runtime.GOOS != "linux" {
		t.Skip("child processes are counted on Linux only")
	}
	for name := range stillCases {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestAWindowEndsEarlyOnlyWhenNothingCanRun$", "-test.v")
			cmd.Env = append(os.Environ(), stillCase+"="+name)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// window is longer than any case needs, so that a case that waited it out
// is told from one that did not.
const window = 4 * time.Second

var stillCases = map[string]func(t *testing.T){
	// A server blocked in Accept, that nothing will stop: reported at once.
	"accept": func(t *testing.T) {
		var ln net.Listener
		rep, err := leak.Find(func() { ln = serve(t) }, leak.Within(window))
		defer ln.Close()
		if err != nil || len(rep.Goroutines) != 1 || !rep.Stilled || rep.Waited > window/2 {
			t.Fatalf("want the Accept goroutine, reported early: %v %v %v\n%s", err, rep.Stilled, rep.Waited, rep)
		}
		if !strings.Contains(rep.String(), "nothing in the process could run before it ended") {
			t.Errorf("the message does not say why the window ended early:\n%s", rep)
		}
	},
	// The same server, closed by a timer 300 ms later: the timer is seen,
	// and the window waited for.
	"timer": func(t *testing.T) {
		rep, err := leak.Find(func() {
			ln := serve(t)
			time.AfterFunc(300*time.Millisecond, func() { ln.Close() })
		}, leak.Within(window))
		if err != nil || len(rep.Goroutines) != 0 || rep.Waited < 250*time.Millisecond {
			t.Fatalf("want the server gone once the timer closed it: %v %v\n%s", err, rep.Waited, rep)
		}
	},
	// A goroutine reading a child's output until the child exits 300 ms
	// later: a live child can wake it, and the window is waited for.
	"child": func(t *testing.T) {
		var cmd *exec.Cmd
		rep, err := leak.Find(func() {
			cmd = exec.Command("sh", "-c", "sleep 0.3")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go io.Copy(io.Discard, out) //nolint:errcheck // ends at EOF
		}, leak.Within(window))
		defer cmd.Wait() //nolint:errcheck // reaps the child
		if err != nil || len(rep.Goroutines) != 0 || rep.Waited < 250*time.Millisecond {
			t.Fatalf("want the reader gone once the child exited: %v %v\n%s", err, rep.Waited, rep)
		}
	},
	// A listener kept open, and nothing else: the descriptor probe (and
	// the sentinel it keeps on the finalizer goroutine) reports it early.
	"descriptor": keptListener,
	// The same while another run's block waits in t.Parallel (paused):
	// the sentinel does not tick for that block, and the window ends
	// early; without the pause it would be waited out.
	"paused": func(t *testing.T) {
		other, err := combined.Start()
		if err != nil {
			t.Fatal(err)
		}
		other.Pausing()
		defer other.Finish() //nolint:errcheck // leaves nothing
		keptListener(t)
	},
}

// keptListener leaves a listener open and wants it reported early.
func keptListener(t *testing.T) {
	var ln net.Listener
	rep, err := fds.Find(func() {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
	}, fds.Within(window))
	defer ln.Close()
	if err != nil || len(rep.FDs) != 1 || !rep.Stilled || rep.Waited > window/2 {
		t.Fatalf("want the listener, reported early: %v %v %v\n%s", err, rep.Stilled, rep.Waited, rep)
	}
}

// serve listens on the loopback interface and accepts on a goroutine of its
// own until the listener is closed.
func serve(t *testing.T) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln
}

// The background scavenger returns freed memory to the system in steps,
// sleeping on a timer of its own between them, up to a second: a timer
// that wakes only the runtime's goroutine, and that kept windows from
// ending early. It is not counted.
func TestTheScavengersTimerIsNoObstacle(t *testing.T) {
	if _, _, ok := probes.NextTimer(); !ok {
		t.Skip("the runtime's timers cannot be read here")
	}
	stop := time.Now().Add(5 * time.Second)
	var keep [][]byte
	for time.Now().Before(stop) {
		// Memory the GC frees, for the scavenger to return.
		for range 256 {
			keep = append(keep, make([]byte, 1<<20))
		}
		keep = nil
		runtime.GC()
		for range 100 {
			if scav, ok := probes.ScavengerTimer(); ok {
				when, _, ok := probes.NextTimer()
				if !ok {
					t.Fatal("the timers could not be read")
				}
				if when == scav {
					t.Fatalf("the scavenger's timer was taken for the earliest")
				}
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	t.Skip("the scavenger never slept on its timer")
}
