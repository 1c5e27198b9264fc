//go:build unix

package fds

import (
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

func kindOfMode(mode uint32) string {
	switch mode {
	case modeSocket:
		return "socket"
	case modeFile:
		return "file"
	case modeDir:
		return "directory"
	case modeChar, modeBlock:
		return "device"
	case modeFIFO:
		return "fifo"
	}
	return "unknown"
}

// describe fills everything but the attribution.
func describe(e fdEntry, t *netTables) FD {
	fd := FD{Num: e.num, dev: e.dev, ino: e.ino, mode: e.mode, AcceptedBy: -1}
	describeKind(&fd)
	if fd.Kind == "socket" {
		fd.Socket = describeSocket(e.num, e.ino, t)
	}
	return fd
}

func describeSocket(num int, ino uint64, t *netTables) *Socket {
	s := &Socket{PeerFD: -1, Inode: ino}
	typ, _ := unix.GetsockoptInt(num, unix.SOL_SOCKET, unix.SO_TYPE)
	local, _ := unix.Getsockname(num)
	peer, _ := unix.Getpeername(num)
	if v, err := unix.GetsockoptInt(num, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v != 0 {
		s.Listening, s.State = true, "LISTEN"
	}
	proto := socketProtocol(num, typ)
	switch a := local.(type) {
	case *unix.SockaddrInet4:
		s.Name = inetName(typ, proto, "4")
		s.Local = addrPort(a.Addr[:], a.Port)
		if p, ok := peer.(*unix.SockaddrInet4); ok {
			s.Peer = addrPort(p.Addr[:], p.Port)
		}
	case *unix.SockaddrInet6:
		s.Name = inetName(typ, proto, "6")
		s.Local = addrPort(a.Addr[:], a.Port)
		if p, ok := peer.(*unix.SockaddrInet6); ok {
			s.Peer = addrPort(p.Addr[:], p.Port)
		}
	case *unix.SockaddrUnix:
		s.Name = "unix " + typeName(typ)
		s.Local = unixName(a.Name)
		if p, ok := peer.(*unix.SockaddrUnix); ok {
			s.Peer = unixName(p.Name)
		}
	default:
		s.Name = otherSocketName(local, typ, proto)
	}
	if strings.HasPrefix(s.Name, "tcp") {
		if st := t.tcpState(s, num); st != "" {
			s.State = st
		}
	}
	return s
}

func addrPort(ip []byte, port int) string {
	a, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)).String()
}

func unixName(n string) string {
	if len(n) > 0 && n[0] == 0 {
		return "@" + n[1:]
	}
	return n
}

func typeName(typ int) string {
	switch typ {
	case unix.SOCK_STREAM:
		return "stream"
	case unix.SOCK_DGRAM:
		return "dgram"
	case unix.SOCK_SEQPACKET:
		return "seqpacket"
	case unix.SOCK_RAW:
		return "raw"
	}
	return "type " + strconv.Itoa(typ)
}

func inetName(typ, proto int, v string) string {
	switch {
	case typ == unix.SOCK_STREAM && (proto == unix.IPPROTO_TCP || proto == 0):
		return "tcp" + v
	case typ == unix.SOCK_STREAM && proto == ipprotoMPTCP:
		return "tcp" + v + " (MPTCP)"
	case typ == unix.SOCK_DGRAM && (proto == unix.IPPROTO_UDP || proto == 0):
		return "udp" + v
	case typ == unix.SOCK_DGRAM && (proto == unix.IPPROTO_ICMP || proto == unix.IPPROTO_ICMPV6):
		return "icmp" + v
	case typ == unix.SOCK_RAW:
		return "raw ipv" + v + " protocol " + strconv.Itoa(proto)
	}
	return "ipv" + v + " " + typeName(typ) + " protocol " + strconv.Itoa(proto)
}

// ipprotoMPTCP is Linux's multipath TCP, which net.Listen uses by default
// where the kernel has it.
const ipprotoMPTCP = 262

// pipeEnd says which end of a pipe fd is.
func pipeEnd(fd int) string {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return ""
	}
	switch fl & unix.O_ACCMODE {
	case unix.O_RDONLY:
		return "read end"
	case unix.O_WRONLY:
		return "write end"
	}
	return ""
}

func isListening(fd int) bool {
	v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	return err == nil && v != 0
}
