package hang

import (
	"os"
	"os/signal"
	"strconv"
	"testing"
	"time"
)

// TestHangs runs until it is stopped, when RESIDUE_FIXTURE_HANG names a
// file: it writes its process ID there first. With
// RESIDUE_FIXTURE_IGNORE_INTERRUPT set, an interrupt does not stop it.
func TestHangs(t *testing.T) {
	marker := os.Getenv("RESIDUE_FIXTURE_HANG")
	if marker == "" {
		t.Skip("RESIDUE_FIXTURE_HANG is not set")
	}
	if os.Getenv("RESIDUE_FIXTURE_IGNORE_INTERRUPT") != "" {
		signal.Ignore(os.Interrupt)
	}
	if err := os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
