//go:build !unix

package main

import (
	"os"
	"os/exec"
)

// stopSignals are the signals that stop an audit: its tests are stopped,
// what ran is reported, and the overlay is removed.
var stopSignals = []os.Signal{os.Interrupt}

func ownGroup(*exec.Cmd) {}

// forward stops go test; its test binaries get the console's interrupt
// themselves.
func forward(cmd *exec.Cmd, first bool) {
	if !first {
		_ = cmd.Process.Kill()
	}
}
