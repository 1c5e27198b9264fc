//go:build linux

package fds

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// platformSnapshot reads /proc/self/fd with getdents and fstats each entry:
// two system calls per descriptor and no allocation per descriptor.
func platformSnapshot() ([]fdEntry, error) {
	dir, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reading the descriptor table: %w", os.NewSyscallError("open /proc/self/fd", err))
	}
	defer syscall.Close(dir)
	out := make([]fdEntry, 0, 64)
	buf := make([]byte, 32<<10)
	var st syscall.Stat_t
	for {
		n, err := syscall.Getdents(dir, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading the descriptor table: %w", os.NewSyscallError("getdents /proc/self/fd", err))
		}
		if n <= 0 {
			break
		}
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
			if reclen < 19 || reclen > len(b) {
				break
			}
			name := b[19:reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			b = b[reclen:]
			fd, ok := atoi(name)
			if !ok || fd == dir {
				continue
			}
			if err := syscall.Fstat(fd, &st); err != nil {
				continue // closed since the listing
			}
			out = append(out, fdEntry{num: fd, dev: uint64(st.Dev), ino: st.Ino, mode: st.Mode & modeType})
		}
	}
	if !slices.IsSortedFunc(out, func(a, b fdEntry) int { return a.num - b.num }) {
		slices.SortFunc(out, func(a, b fdEntry) int { return a.num - b.num })
	}
	return out, nil
}

func atoi(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// fdTarget is what /proc/self/fd/N links to: a path, "socket:[ino]",
// "pipe:[ino]", "anon_inode:[eventfd]"…
func fdTarget(num int) string {
	buf := make([]byte, 4096)
	n, err := syscall.Readlink("/proc/self/fd/"+strconv.Itoa(num), buf)
	if err != nil || n < 0 {
		return ""
	}
	return string(buf[:n])
}

// describeKind fills Kind and Path.
func describeKind(fd *FD) {
	t := fdTarget(fd.Num)
	switch {
	case fd.mode == modeSocket:
		fd.Kind = "socket"
	case strings.HasPrefix(t, "pipe:"):
		fd.Kind, fd.Path = "pipe", pipeEnd(fd.Num)
	case t == "anon_inode:[eventfd]":
		fd.Kind, fd.Path = "eventfd", t
	case t == "anon_inode:[eventpoll]":
		fd.Kind, fd.Path = "epoll", t
	case strings.HasPrefix(t, "anon_inode:"):
		fd.Kind, fd.Path = "anon inode", t
	default:
		fd.Kind, fd.Path = kindOfMode(fd.mode), t
	}
}

// tcpStates are the kernel's TCP states, as /proc/net/tcp numbers them.
var tcpStates = [...]string{1: "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",
	"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "LISTEN", "CLOSING", "NEW_SYN_RECV"}

// tcpState reads the socket's TCP state with TCP_INFO, or, where that
// fails, from /proc/self/net/tcp{,6}, found by inode.
func (t *netTables) tcpState(s *Socket, fdNum int) string {
	if info, err := unix.GetsockoptTCPInfo(fdNum, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil && int(info.State) < len(tcpStates) && info.State > 0 {
		return tcpStates[info.State]
	}
	if t.tcp == nil {
		t.tcp = map[uint64]string{}
		fdMu.Lock()
		for _, f := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
			b, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			for _, l := range strings.Split(string(b), "\n")[1:] {
				fs := strings.Fields(l)
				if len(fs) < 10 {
					continue
				}
				st, err1 := strconv.ParseUint(fs[3], 16, 8)
				ino, err2 := strconv.ParseUint(fs[9], 10, 64)
				if err1 != nil || err2 != nil || int(st) >= len(tcpStates) {
					continue
				}
				t.tcp[ino] = tcpStates[st]
			}
		}
		fdMu.Unlock()
	}
	return t.tcp[s.Inode]
}

// netTables caches the kernel's socket tables for one report.
type netTables struct {
	tcp map[uint64]string
}
