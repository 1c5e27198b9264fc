package globals

import "testing"

// The map reader must know the running Go's map layout; falling back to
// the runtime's iterator brings back the aborts on concurrent writes.
func TestMapLayoutIsKnown(t *testing.T) {
	layoutOnce.Do(calibrate)
	if !layoutKnown {
		t.Fatal("the map layout of this Go release was not recognised")
	}
}
