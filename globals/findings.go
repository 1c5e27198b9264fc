package globals

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/residue-go/residue/internal/probes"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }

func (r *section) Title() string { return "Global state" }

// Findings lists one finding per change, keyed by its path.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	out := make([]probes.Finding, 0, len(r.Changes))
	for _, c := range r.Changes {
		k := c.Path
		if c.Variable == "environment" {
			// A changed value's path is its name, shown as such: keyed
			// as an added or removed one is, environment[$NAME].
			k = c.Variable
		}
		if c.Key != "" {
			k += "[" + c.Key + "]"
		}
		out = append(out, probes.Finding{Key: withoutPorts(withoutAddresses(k)), Count: 1, Summary: c.String()})
	}
	return out
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "globals changed", Value: int64(len(r.Changes))}}
}

// withoutAddresses returns a finding's key with every address (a pointer
// map key, a value shown as Type(0x…)) written 0x…, outside quoted
// strings: an address changes from run to run, and a key must not, so
// that a baseline can hold it.
func withoutAddresses(key string) string {
	if !strings.Contains(key, "0x") {
		return key
	}
	var b strings.Builder
	quoted := false
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case quoted && c == '\\' && i+1 < len(key):
			b.WriteByte(c)
			i++
			c = key[i]
		case c == '"':
			quoted = !quoted
		case !quoted && c == '0' && i+2 < len(key) && key[i+1] == 'x' && isHex(key[i+2]) && (i == 0 || !isWord(key[i-1])):
			j := i + 2
			for j < len(key) && isHex(key[j]) {
				j++
			}
			b.WriteString("0x…")
			i = j - 1
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hostPort is a network address with a port: an IPv4 or bracketed IPv6
// literal, or localhost.
var hostPort = regexp.MustCompile(`((?:\d{1,3}\.){3}\d{1,3}|\[[0-9A-Fa-f:.]+(?:%[0-9A-Za-z]+)?\]|localhost):\d{1,5}\b`)

// withoutPorts returns a finding's key with the port of every network
// address in it written …: a test's server listens on a port the system
// picks, another at every run, and a cache keyed by its address
// (fasthttp's defaultDialer.tcpAddrsMap["127.0.0.1:35295"]) would give a
// key no baseline could hold.
func withoutPorts(key string) string {
	if !strings.Contains(key, ":") {
		return key
	}
	return hostPort.ReplaceAllString(key, "$1:…")
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func isWord(c byte) bool { return isHex(c) || 'g' <= c && c <= 'z' || 'G' <= c && c <= 'Z' || c == '_' }
