//go:build !race

package env

// Race is set when the binary is built with -race, where allocation
// figures are not exact.
const Race = false
