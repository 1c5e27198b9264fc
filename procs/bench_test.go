package procs_test

import (
	"testing"

	"github.com/residue-go/residue/procs"
)

// The cost of the probe around a block that starts nothing: two reads of
// the process table.
func BenchmarkCleanBlock(b *testing.B) {
	for b.Loop() {
		if _, err := procs.Find(func() {}, procs.Within(0)); err != nil {
			b.Fatal(err)
		}
	}
}
