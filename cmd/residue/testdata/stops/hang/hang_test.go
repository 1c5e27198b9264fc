package hang

import (
	"os"
	"strconv"
	"testing"
	"time"
)

// TestHangs runs until it is stopped, when RESIDUE_FIXTURE_HANG names a
// file: it writes its process ID there first.
func TestHangs(t *testing.T) {
	marker := os.Getenv("RESIDUE_FIXTURE_HANG")
	if marker == "" {
		t.Skip("RESIDUE_FIXTURE_HANG is not set")
	}
	if err := os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
