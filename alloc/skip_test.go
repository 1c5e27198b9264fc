package alloc_test

import (
	"testing"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/internal/env"
)

func TestSkipUnderRaceSkipsOnlyUnderRace(t *testing.T) {
	var skipped bool
	t.Run("allocation check", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		alloc.SkipUnderRace(t)
	})
	if skipped != env.Race {
		t.Fatalf("skipped = %v in a build with -race = %v", skipped, env.Race)
	}
}
