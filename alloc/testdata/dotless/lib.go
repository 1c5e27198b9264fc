// Package myapp is a module whose path has no dot, built by
// TestMeasureTellsTheStandardLibraryApartUnderTrimpath with and without
// -trimpath.
package myapp

import "strings"

// Render allocates in the standard library.
//
//go:noinline
func Render(n int) string { return strings.Repeat("ab", n) }
