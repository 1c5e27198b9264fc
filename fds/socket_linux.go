//go:build linux

package fds

import (
	"strconv"

	"golang.org/x/sys/unix"
)

func socketProtocol(num, _ int) int {
	p, _ := unix.GetsockoptInt(num, unix.SOL_SOCKET, unix.SO_PROTOCOL)
	return p
}

var netlinkProtocols = map[int]string{
	unix.NETLINK_ROUTE: "route", unix.NETLINK_SOCK_DIAG: "sock_diag", unix.NETLINK_AUDIT: "audit",
	unix.NETLINK_KOBJECT_UEVENT: "kobject_uevent", unix.NETLINK_GENERIC: "generic",
	unix.NETLINK_NETFILTER: "netfilter", unix.NETLINK_XFRM: "xfrm", unix.NETLINK_SELINUX: "selinux",
}

func otherSocketName(local unix.Sockaddr, typ, proto int) string {
	switch local.(type) {
	case *unix.SockaddrNetlink:
		if n, ok := netlinkProtocols[proto]; ok {
			return "netlink " + n
		}
		return "netlink protocol " + strconv.Itoa(proto)
	case *unix.SockaddrLinklayer:
		return "packet " + typeName(typ)
	case *unix.SockaddrVM:
		return "vsock " + typeName(typ)
	case nil:
		return "socket " + typeName(typ) + " protocol " + strconv.Itoa(proto)
	}
	return "socket " + typeName(typ) + " protocol " + strconv.Itoa(proto)
}
