package secondrun

import (
	"os"
	"testing"
)

var runs int

// TestStopsTheSecondTime stops the test binary when -count runs it again.
func TestStopsTheSecondTime(t *testing.T) {
	if runs++; runs == 2 {
		os.Exit(3)
	}
}
