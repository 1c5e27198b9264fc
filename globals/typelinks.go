package globals

import (
	"reflect"
	"strings"
	"unsafe"

	"github.com/residue-go/residue/internal/stack"
)

// typesByString lists the run-time types whose String is s, among the
// pointer, channel, map, slice and array types the linker recorded.
//
//go:linkname typesByString reflect.typesByString
func typesByString(s string) []unsafe.Pointer

// namedByPointer finds a named type that DWARF gives no runtime type for
// through the pointer type to it, which the linker did record. name is the
// DWARF name, such as "net/http.ServeMux".
func namedByPointer(name string, size int64) reflect.Type {
	if strings.ContainsAny(name, "[ ") {
		return nil
	}
	dot := strings.LastIndexByte(name, '.')
	if dot < 0 {
		return nil
	}
	pkg, short := stack.Unescape(name[:dot]), name[dot+1:]
	s := "*" + pkg[strings.LastIndexByte(pkg, '/')+1:] + "." + short
	for _, p := range typesByString(s) {
		var e any
		(*[2]unsafe.Pointer)(unsafe.Pointer(&e))[0] = p
		t := reflect.TypeOf(e)
		if t.Kind() != reflect.Pointer {
			continue
		}
		if el := t.Elem(); el.PkgPath() == pkg && el.Name() == short && int64(el.Size()) == size {
			return el
		}
	}
	return nil
}
