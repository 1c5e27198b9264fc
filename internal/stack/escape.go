package stack

import (
	"strconv"
	"strings"
)

// The toolchain spells a package's path in the names of its symbols
// (functions, variables, types) with some bytes escaped as %xx: a dot in the
// last path element ("gopkg.in/yaml.v3" makes "gopkg.in/yaml%2ev3.Unmarshal"),
// and '%', '"', spaces, control and non-ASCII bytes anywhere in the path.
// runtime.FuncForPC, goroutine profiles and DWARF give these names.

// escaped reports whether byte i of path p is written as %xx in symbol
// names; slash is the index of p's last '/'.
func escaped(p string, i, slash int) bool {
	c := p[i]
	return c <= ' ' || c == '%' || c == '"' || c >= 0x7f || c == '.' && i > slash
}

// SymbolPrefix returns the package path pkg as the names of its symbols
// begin: "gopkg.in/yaml%2ev3" for "gopkg.in/yaml.v3".
func SymbolPrefix(pkg string) string {
	slash := strings.LastIndexByte(pkg, '/')
	i := 0
	for i < len(pkg) && !escaped(pkg, i, slash) {
		i++
	}
	if i == len(pkg) {
		return pkg // most paths: the index looks up every variable's package this way
	}
	var b strings.Builder
	for i := range len(pkg) {
		if !escaped(pkg, i, slash) {
			b.WriteByte(pkg[i])
			continue
		}
		const hex = "0123456789abcdef"
		b.WriteByte('%')
		b.WriteByte(hex[pkg[i]>>4])
		b.WriteByte(hex[pkg[i]&0xf])
	}
	return b.String()
}

// Unescape returns a symbol's name with its package path as the import path
// spells it: "gopkg.in/yaml.v3.Unmarshal" for "gopkg.in/yaml%2ev3.Unmarshal".
// A Go identifier holds no '%', so every %xx in a name is an escape.
func Unescape(name string) string {
	if !strings.Contains(name, "%") {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] == '%' && i+2 < len(name) {
			if c, err := strconv.ParseUint(name[i+1:i+3], 16, 8); err == nil {
				b.WriteByte(byte(c))
				i += 2
				continue
			}
		}
		b.WriteByte(name[i])
	}
	return b.String()
}
