//go:build linux

package fds

import (
	"io"
	"os"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// withHeapDump dumps the heap to a file in memory and gives it to read.
// The runtime writes the dump with the world stopped, so it must not go to a
// pipe this process reads.
func withHeapDump(read func(io.Reader) error) error {
	fd, err := unix.MemfdCreate(dumpFileName, unix.MFD_CLOEXEC)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), dumpFileName)
	defer f.Close()
	debug.WriteHeapDump(f.Fd())
	size, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	return read(io.NewSectionReader(f, 0, size))
}
