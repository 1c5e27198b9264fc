package leak

import (
	"testing"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/probes"
)

// TestLookLeavesOutTheGoroutineLooking checks that a check finished on a
// goroutine started after the block (Ginkgo runs a spec's cleanup, and so
// CheckEverySpec's check, on a goroutine of its own) decides from the dump's
// headers alone, while another new goroutine still makes it look in full.
func TestLookLeavesOutTheGoroutineLooking(t *testing.T) {
	r, err := probes.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Finish()
	before := stack.IDs(stack.FullDump(nil))

	looked := make(chan *snapshot)
	go func() { looked <- look(r, before, false) }()
	if s := <-looked; s != nil {
		t.Fatalf("the goroutine looking counted as new: a full look over %d goroutines", len(s.all))
	}

	stop := make(chan struct{})
	defer close(stop)
	go func() { <-stop }()
	go func() { looked <- look(r, before, false) }()
	if s := <-looked; s == nil {
		t.Fatal("a new goroutine still alive did not make the look a full one")
	}
}
