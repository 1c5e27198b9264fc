// Package dotted has a dot in the last element of its path, which the
// runtime and DWARF spell %2e in its symbols' names.
package dotted

import "testing"

var count int

func TestCounts(t *testing.T) { count++ }

func TestStarts(t *testing.T) {
	stop := make(chan struct{})
	go func() { <-stop }()
	t.Cleanup(func() { stopLater = stop })
}

var stopLater chan struct{}
