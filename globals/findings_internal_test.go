package globals

import (
	"strings"
	"testing"
)

// A finding's key holds no address: a pointer map key or a value shown
// with its address is the same key from run to run; a quoted string, or
// a name that ends in hex digits, is left as it is.
func TestKeysHoldNoAddresses(t *testing.T) {
	for in, want := range map[string]string{
		"example.com/m.ptrSet[0x2a69285ad458]":                  "example.com/m.ptrSet[0x…]",
		"example.com/m.srv.conns[*net.TCPConn(0x1da053620110)]": "example.com/m.srv.conns[*net.TCPConn(0x…)]",
		`example.com/m.names["0x1234"]`:                         `example.com/m.names["0x1234"]`,
		`example.com/m.names["a \"0x12\" b"][0xc000]`:           `example.com/m.names["a \"0x12\" b"][0x…]`,
		"example.com/m.cafe0x12":                                "example.com/m.cafe0x12",
		"example.com/m.Registry[\"a\"]":                         "example.com/m.Registry[\"a\"]",
	} {
		if got := withoutAddresses(in); got != want {
			t.Errorf("withoutAddresses(%s) = %s, want %s", in, got, want)
		}
	}
}

// A finding's key holds no port of a network address: a server a test
// starts listens on a port the system picks, another at every run.
func TestKeysHoldNoPorts(t *testing.T) {
	for in, want := range map[string]string{
		`example.com/m.dialer.addrs["127.0.0.1:35295"]`:    `example.com/m.dialer.addrs["127.0.0.1:…"]`,
		`example.com/m.dialer.addrs["[::1]:8080"]`:         `example.com/m.dialer.addrs["[::1]:…"]`,
		`example.com/m.dialer.addrs["[fe80::1%eth0]:443"]`: `example.com/m.dialer.addrs["[fe80::1%eth0]:…"]`,
		`example.com/m.seen["localhost:61000/path"]`:       `example.com/m.seen["localhost:…/path"]`,
		`example.com/m.seen["http://10.0.0.7:9000"].count`: `example.com/m.seen["http://10.0.0.7:…"].count`,
		`example.com/m.times["12:30"]`:                     `example.com/m.times["12:30"]`,
		`example.com/m.names["a:1"]`:                       `example.com/m.names["a:1"]`,
		"example.com/m.Registry[\"example.com:80\"]":       "example.com/m.Registry[\"example.com:80\"]",
	} {
		if got := withoutPorts(in); got != want {
			t.Errorf("withoutPorts(%s) = %s, want %s", in, got, want)
		}
	}
	r := &Report{Changes: []Change{{Variable: "example.com/m.addrs", Path: "example.com/m.addrs", Kind: "added", Key: `"127.0.0.1:35295"`}}}
	if f := (*section)(r).Findings(); len(f) != 1 || f[0].Key != `example.com/m.addrs["127.0.0.1:…"]` {
		t.Errorf("findings %+v, want one keyed example.com/m.addrs[\"127.0.0.1:…\"]", f)
	}
}

// An environment variable's finding is keyed environment[$NAME] whether it
// was added, removed or changed (a changed one had been $NAME[$NAME]).
func TestEnvironmentKeys(t *testing.T) {
	before := []string{"PORT=80", "GONE=x", "SAME=1"}
	after := []string{"PORT=3123", "SAME=1", "NEW=1"}
	var cfg config
	r := section{Changes: envChanges(&cfg, before, after)}
	var got []string
	for _, f := range r.Findings() {
		got = append(got, f.Key)
	}
	want := "environment[$GONE] environment[$NEW] environment[$PORT]"
	if strings.Join(got, " ") != want {
		t.Errorf("keys %q, want %s", got, want)
	}
}
