package gopanic

import (
	"testing"
	"time"
)

func TestPasses(t *testing.T) {}

// TestPanicsInAGoroutine stops the test binary while it runs: it never
// ends, and writes no record.
func TestPanicsInAGoroutine(t *testing.T) {
	go panic("boom in a goroutine")
	time.Sleep(time.Minute)
}
