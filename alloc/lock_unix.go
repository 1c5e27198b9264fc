//go:build unix

package alloc

import (
	"os"
	"syscall"
)

// lockDir takes an exclusive advisory lock on the directory dir until unlock
// is called. Locking the directory rather than the budget file, which is
// replaced on each write, leaves no lock file behind.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
