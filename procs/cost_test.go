//go:build linux

package procs

import "testing"

// Both ways of listing children agree.
func TestChildrenListsAgreeWithTheFullScan(t *testing.T) {
	a, err1 := children()
	b, err2 := scanChildren()
	if err1 != nil || err2 != nil || len(a) != len(b) {
		t.Fatalf("children %v %v, scan %v %v", a, err1, b, err2)
	}
}

func BenchmarkChildren(b *testing.B) {
	for b.Loop() {
		children()
	}
}
