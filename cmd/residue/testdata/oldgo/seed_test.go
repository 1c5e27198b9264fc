// Package oldgo is a module whose go line is older than residue's: its
// tests run with the run-time behaviours of Go 1.20 (GODEBUG defaults),
// audited as plain.
package oldgo

import (
	"math/rand"
	"testing"
)

// TestSeedRepeats passes where rand.Seed seeds the global generator, as it
// does for a module at go 1.20; from Go 1.24's defaults on it does nothing.
func TestSeedRepeats(t *testing.T) {
	rand.Seed(1)
	a := rand.Int()
	rand.Seed(1)
	if b := rand.Int(); a != b {
		t.Errorf("rand.Seed(1) twice gave %d, then %d", a, b)
	}
}
