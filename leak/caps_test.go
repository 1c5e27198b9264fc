package leak_test

import (
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/golden"

	"github.com/residue-go/residue/leak"
)

// nested parks on stop under depth calls of itself: each depth is a stack
// of its own.
//
//go:noinline
func nested(depth int, stop chan struct{}) {
	if depth == 0 {
		<-stop
		return
	}
	nested(depth-1, stop)
}

// A block that leaves 50,000 goroutines with one stack and 25 with stacks
// of their own: the counts stay exact, every part of the message is capped,
// and the verdict comes in bounded time.
//
// The runtime keeps every goroutine it ever made in a list that each stack
// dump and GC walks, so the test runs in a process of its own, not to slow
// down the tests after it.
func TestHugeLeaksGiveABoundedMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 50,000 goroutines")
	}
	if os.Getenv("LEAK_TEST_HUGE") == "" {
		args := []string{"-test.run=^TestHugeLeaksGiveABoundedMessage$", "-test.count=1"}
		if f := flag.Lookup("update"); f != nil && f.Value.String() == "true" {
			args = append(args, "-update")
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "LEAK_TEST_HUGE=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return
	}
	const many, distinct = 50000, 25
	stop := make(chan struct{})
	defer close(stop)
	start := time.Now()
	r := find(t, func() {
		for range many {
			go blockedOn(stop)
		}
		for d := range distinct {
			go nested(d+1, stop)
		}
	}, leak.Within(0))
	took := time.Since(start)
	if len(r.Goroutines) != many+distinct {
		t.Fatalf("%d goroutines reported, want %d", len(r.Goroutines), many+distinct)
	}
	msg := r.String()
	for _, want := range []string{
		"The block left 50025 goroutines running",
		"50000 × goroutines ",
		" … and 49990 more [chan receive",
		"… and 6 more groups (6 goroutines with other stacks), not shown",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q", want)
		}
	}
	if len(msg) > 32<<10 {
		t.Errorf("message is %d bytes, want a bounded one", len(msg))
	}
	if took > 30*time.Second {
		t.Errorf("the verdict took %v", took)
	}
	t.Logf("verdict in %v, message %d bytes", took, len(msg))
	golden.Check(t, "huge", msg)
}
