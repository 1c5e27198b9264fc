package parallel

import (
	"testing"
	"time"
)

var mode = "prod"

// TestSetsMode changes a global for good while TestBeside runs: either
// test may have made the change, as far as residue can tell.
func TestSetsMode(t *testing.T) {
	t.Parallel()
	mode = "debug"
	time.Sleep(50 * time.Millisecond)
}

func TestBeside(t *testing.T) {
	t.Parallel()
	time.Sleep(100 * time.Millisecond)
}
