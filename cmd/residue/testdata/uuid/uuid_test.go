// Package uuid makes UUIDs of every version with github.com/google/uuid,
// whose package keeps the last time it handed out, a clock sequence and a
// node ID: making UUIDs moves them, and is no test's change; setting the
// node ID is.
package uuid

import (
	"testing"

	"github.com/google/uuid"
)

func makeAll(t *testing.T) {
	t.Helper()
	for _, make := range []func() (uuid.UUID, error){uuid.NewUUID, uuid.NewV6, uuid.NewV7, uuid.NewRandom} {
		if _, err := make(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMakesUUIDs(t *testing.T) { makeAll(t) }

func TestMakesMoreUUIDs(t *testing.T) { makeAll(t) }

// TestEnablesThePool turns on the pool of random bytes random UUIDs take
// from: a change of the package's configuration.
func TestEnablesThePool(t *testing.T) { uuid.EnableRandPool() }

// TestDrawsFromThePool makes random UUIDs from the pool an earlier test
// turned on: drawing is no change.
func TestDrawsFromThePool(t *testing.T) {
	for range 20 {
		_ = uuid.New()
	}
}

func TestSetsTheNode(t *testing.T) {
	if !uuid.SetNodeID([]byte{1, 2, 3, 4, 5, 6}) {
		t.Fatal("SetNodeID refused six bytes")
	}
}
