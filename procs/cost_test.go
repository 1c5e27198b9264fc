//go:build linux

package procs

import (
	"os/exec"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/osproc"
)

// Both ways of listing children agree.
func TestChildrenListsAgreeWithTheFullScan(t *testing.T) {
	a, err1 := children()
	b, err2 := scanChildren()
	if err1 != nil || err2 != nil || len(a) != len(b) {
		t.Fatalf("children %v %v, scan %v %v", a, err1, b, err2)
	}
}

// osproc.Childless sees a running child and an exited one not yet waited for
// (a zombie), and leaves the zombie for Wait to reap.
func TestChildlessSeesRunningAndExitedChildren(t *testing.T) {
	if !osproc.Childless() {
		t.Skip("the test process already has children")
	}
	cmd := exec.Command("sleep", "0.2")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if osproc.Childless() {
		t.Error("childless with a running child")
	}
	a, err := children()
	if err != nil || len(a) != 1 {
		t.Errorf("children with one running: %v %v", a, err)
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, _ := children(); len(c) == 1 && c[0].state == "Z" {
			break
		}
	}
	if osproc.Childless() {
		t.Error("childless with an exited child not waited for")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the child could not be waited for (reaped by childless?): %v", err)
	}
	if !osproc.Childless() {
		t.Error("not childless once the child was waited for")
	}
}

func BenchmarkChildren(b *testing.B) {
	for b.Loop() {
		children()
	}
}
