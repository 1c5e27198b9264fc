package goexit

import (
	"runtime"
	"testing"
)

// TestSkips ends through runtime.Goexit, and is not failed.
func TestSkips(t *testing.T) { t.Skip("not today") }

// TestGoexit ends through runtime.Goexit without failing or skipping:
// testing fails it.
func TestGoexit(t *testing.T) { runtime.Goexit() }
