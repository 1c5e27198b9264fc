package files_test

import (
	"testing"

	"github.com/residue-go/residue/files"
)

// The cost of the probe around a block that creates nothing: two looks at
// the temp directory's top level and the working directory's tree.
func BenchmarkCleanBlock(b *testing.B) {
	for b.Loop() {
		if _, err := files.Find(func() {}, files.Within(0)); err != nil {
			b.Fatal(err)
		}
	}
}
