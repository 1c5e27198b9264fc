//go:build race

package alloc_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/internal/env"
)

func TestMeasureFailsUnderRace(t *testing.T) {
	rate := runtime.MemProfileRate
	_, err := alloc.Measure(func() { sinkBytes = make([]byte, 1) })
	if !errors.Is(err, env.ErrRace) {
		t.Fatalf("want ErrRace, got %v", err)
	}
	if runtime.MemProfileRate != rate {
		t.Fatalf("MemProfileRate changed")
	}
}
