//go:build linux

package osproc

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Childless reports whether the process has no child process at all,
// running or exited and not waited for, with one waitid system call that
// neither blocks nor reaps (WNOHANG, WNOWAIT): the kernel answers ECHILD
// only when no child could ever be waited for. __WALL counts children of
// every thread and with any exit signal.
func Childless() bool {
	var info unix.Siginfo
	err := unix.Waitid(unix.P_ALL, 0, &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT|unix.WALL, nil)
	return errors.Is(err, unix.ECHILD)
}
