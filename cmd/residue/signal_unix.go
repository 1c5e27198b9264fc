//go:build unix

package main

import (
	"os"
	"os/exec"
	"syscall"
)

// stopSignals are the signals that stop an audit: its tests are stopped,
// what ran is reported, and the overlay is removed.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// ownGroup runs cmd (go test) in a process group of its own, with the test
// binaries it starts, so that forward reaches all of them whether the
// signal came from the terminal or was sent to residue alone.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// forward passes a stop signal on to cmd's group: the first as an
// interrupt, on which go test stops its test binaries and reports them;
// any later one as a kill.
func forward(cmd *exec.Cmd, first bool) {
	sig := syscall.SIGINT
	if !first {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-cmd.Process.Pid, sig)
}
