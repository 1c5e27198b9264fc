//go:build darwin

package fds

import (
	"bytes"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fdPath asks the kernel for the descriptor's path (fcntl F_GETPATH).
func fdPath(fd int) string {
	var buf [unix.PathMax]byte
	if _, _, errno := unix.Syscall(unix.SYS_FCNTL, uintptr(fd), unix.F_GETPATH, uintptr(unsafe.Pointer(&buf[0]))); errno != 0 {
		return ""
	}
	if i := bytes.IndexByte(buf[:], 0); i >= 0 {
		return string(buf[:i])
	}
	return ""
}

// darwinTCPStates are the kernel's TCPS_* values.
var darwinTCPStates = [...]string{"CLOSED", "LISTEN", "SYN_SENT", "SYN_RECEIVED", "ESTABLISHED",
	"CLOSE_WAIT", "FIN_WAIT_1", "CLOSING", "LAST_ACK", "FIN_WAIT_2", "TIME_WAIT"}

// netTables has nothing to cache here: the state is read per socket.
type netTables struct{}

// tcpState reads the socket's TCP state with TCP_CONNECTION_INFO.
func (*netTables) tcpState(_ *Socket, fd int) string {
	info, err := unix.GetsockoptTCPConnectionInfo(fd, unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	if err != nil || int(info.State) >= len(darwinTCPStates) {
		return ""
	}
	return darwinTCPStates[info.State]
}
