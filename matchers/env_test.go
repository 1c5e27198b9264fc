package matchers_test

import "github.com/residue-go/residue/internal/env"

// raceEnabled is set when the test binary is built with -race.
const raceEnabled = env.Race
