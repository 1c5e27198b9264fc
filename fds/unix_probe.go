//go:build unix && !linux

package fds

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// maxProbedFD bounds the descriptor numbers probed when the limit is larger.
const maxProbedFD = 1 << 20

// platformSnapshot probes every descriptor number below the soft
// RLIMIT_NOFILE with fcntl(F_GETFD) and fstats the open ones: these systems
// have no /proc/self/fd.
func platformSnapshot() ([]fdEntry, error) {
	var rl unix.Rlimit
	limit := uint64(1024)
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
		limit = uint64(rl.Cur)
	}
	limit = min(limit, maxProbedFD)
	out := make([]fdEntry, 0, 64)
	var st unix.Stat_t
	for fd := 0; uint64(fd) < limit; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
			continue
		}
		if err := unix.Fstat(fd, &st); err != nil {
			continue
		}
		out = append(out, fdEntry{num: fd, dev: uint64(st.Dev), ino: uint64(st.Ino), mode: uint32(st.Mode) & modeType})
	}
	return out, nil
}

// describeKind fills Kind and Path.
func describeKind(fd *FD) {
	fd.Kind = kindOfMode(fd.mode)
	switch fd.Kind {
	case "fifo":
		// Pipes are fifos here.
		fd.Kind, fd.Path = "pipe", pipeEnd(fd.Num)
	case "unknown":
		if fd.mode == 0 {
			fd.Kind = "kqueue or other kernel object"
		}
	default:
		fd.Path = fdPath(fd.Num)
	}
}

func socketProtocol(int, int) int { return 0 }

func otherSocketName(_ unix.Sockaddr, typ, proto int) string {
	return "socket " + typeName(typ) + " protocol " + strconv.Itoa(proto)
}
