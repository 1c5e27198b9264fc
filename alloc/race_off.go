//go:build !race

package alloc

// RaceEnabled is set when the binary is built with -race, where Measure
// returns ErrRace.
const RaceEnabled = false
