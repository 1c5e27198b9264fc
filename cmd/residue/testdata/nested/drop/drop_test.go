package drop

import (
	"os"
	"testing"

	. "github.com/onsi/gomega"

	. "github.com/residue-go/residue/matchers"
)

// Each test checks that residue's matcher, inside the test, sees the file
// the block left: it must see it audited as it does under plain go test.

func TestDroppedFileIsSeen(t *testing.T) {
	g := NewWithT(t)
	g.Expect(func() { Dropped(os.Args[0]) }).To(LeakFileDescriptors())
}

func TestFileOpenedElsewhereIsSeen(t *testing.T) {
	g := NewWithT(t)
	g.Expect(Elsewhere).To(LeakFileDescriptors())
}
