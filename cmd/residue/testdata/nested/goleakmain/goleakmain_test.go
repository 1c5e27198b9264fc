package goleakmain

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain looks for goroutines left once the tests are over, as goleak
// users do: residue's own must be gone by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestOpensAndCloses(t *testing.T) {
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}
