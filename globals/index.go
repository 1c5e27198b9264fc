package globals

import (
	"bytes"
	"debug/dwarf"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"os"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/stack"
)

// Go's DWARF extension attribute holding a type's offset in the module's
// type section.
const attrGoRuntimeType dwarf.Attr = 0x2904

// variable is one package-level variable listed by an index.
type variable struct {
	// Name is the fully qualified name, such as "net/http.DefaultServeMux".
	Name string
	// Package is the import path, such as "net/http".
	Package string
	// Addr is the variable's address as recorded in the binary (before any
	// load slide).
	Addr uint64
	// Size is the variable's size in bytes, as recorded in DWARF.
	Size int64
	// TypeName is the type's name as recorded in DWARF.
	TypeName string
	// RuntimeType is the offset of the variable's type in the module's type
	// section, or -1 when DWARF does not record it.
	RuntimeType int64

	typ dwarf.Offset // the type's DWARF entry
}

// index lists the package-level variables of one binary from its DWARF debug
// info. Packages are read on demand, each once, so that listing a few
// packages of a large binary reads only their compile units.
type index struct {
	path  string
	data  *dwarf.Data
	info  []byte // the .debug_info section data decodes, for an ELF executable
	order binary.ByteOrder

	mu    sync.Mutex
	units map[string][]dwarf.Offset // package path -> compile unit offsets
	names []string                  // sorted package paths
	vars  map[string][]variable     // package path -> variables, once read
	types map[dwarf.Offset]typeInfo

	// noptr is the binary's initialised pointer-free data (ELF's
	// .noptrdata) as the file holds it: what its variables held when the
	// program was loaded (loadedImage).
	noptr     []byte
	noptrAddr uint64
}

type typeInfo struct {
	name      string
	size      int64
	runtime   int64
	tag       dwarf.Tag
	kind      int64        // Go's reflect.Kind, from DW_AT_go_kind
	under     dwarf.Offset // DW_AT_type: pointee, array element, typedef target
	key, elem dwarf.Offset // DW_AT_go_key, DW_AT_go_elem
	count     int64        // array length
	members   []member     // struct fields
}

type member struct {
	name   string
	offset int64
	typ    dwarf.Offset
}

const (
	attrGoKind dwarf.Attr = 0x2900
	attrGoKey  dwarf.Attr = 0x2901
	attrGoElem dwarf.Attr = 0x2902
)

// noDebugInfoError is returned when the binary carries no DWARF debug info,
// as test binaries built by a plain `go test` or `ginkgo` do. It is
// env.ErrNoDebugInfo, for the combined checks, which then stand aside.
type noDebugInfoError struct {
	Path string
	Err  error
}

func (e *noDebugInfoError) Error() string {
	return "cannot list package-level variables: " + e.Path + " has no DWARF debug info (" + e.Err.Error() + ").\n" +
		"The go command strips it from test binaries unless asked to keep it. Run the tests with:\n" +
		"\n" +
		"    go test -ldflags=-w=0 ./...\n" +
		"    ginkgo --ldflags=-w=0 ./...\n" +
		"\n" +
		"(or set GOFLAGS=-ldflags=-w=0), or name the variables to watch, which needs no debug info:\n" +
		"\n" +
		"    globals.Watching(&pkg.Var, &pkg.Other)"
}

func (e *noDebugInfoError) Unwrap() error { return e.Err }

func (e *noDebugInfoError) Is(target error) bool { return target == env.ErrNoDebugInfo }

// openIndex reads the list of compile units of the executable at path (ELF,
// Mach-O or PE). Variables are read later, per package, by Variables.
func openIndex(path string) (*index, error) {
	var (
		data    *dwarf.Data
		order   binary.ByteOrder
		offsets []dwarf.Offset
		info    []byte
		noptr   []byte
		noptrAt uint64
		err     error
	)
	if f, e := elf.Open(path); e == nil {
		data, order, offsets, info, err = readELF(path, f)
		if s := f.Section(".noptrdata"); s != nil && s.Type == elf.SHT_PROGBITS && err == nil {
			// Without it, no variable is known to hold its loaded value:
			// the rule that needs it (the Once rule) stays narrower.
			if b, e := s.Data(); e == nil {
				noptr, noptrAt = b, s.Addr
			}
		}
		f.Close()
	} else if pe := new(os.PathError); errors.As(e, &pe) {
		// The file could not be opened (too many open files, for one):
		// say so, rather than that it is no executable.
		return nil, fmt.Errorf("reading the debug info of %s: %w", path, e)
	} else {
		data, order, err = readDWARF(path)
		if err == nil {
			offsets, err = walkUnits(data)
		}
	}
	if err != nil {
		return nil, err
	}
	ix := &index{
		path:      path,
		data:      data,
		info:      info,
		order:     order,
		units:     map[string][]dwarf.Offset{},
		vars:      map[string][]variable{},
		types:     map[dwarf.Offset]typeInfo{},
		noptr:     noptr,
		noptrAddr: noptrAt,
	}
	r := data.Reader()
	for _, off := range offsets {
		r.Seek(off)
		e, err := r.Next()
		if err != nil {
			return nil, fmt.Errorf("reading DWARF of %s at offset %#x: %w", path, off, err)
		}
		if e == nil || e.Tag != dwarf.TagCompileUnit {
			continue
		}
		if name, ok := e.Val(dwarf.AttrName).(string); ok {
			if _, seen := ix.units[name]; !seen {
				ix.names = append(ix.names, name)
			}
			ix.units[name] = append(ix.units[name], e.Offset)
		}
	}
	if len(ix.units) == 0 {
		return nil, &noDebugInfoError{Path: path, Err: errors.New("no compile units")}
	}
	sort.Strings(ix.names)
	return ix, nil
}

func readDWARF(path string) (*dwarf.Data, binary.ByteOrder, error) {
	var (
		data  *dwarf.Data
		order binary.ByteOrder
		err   error
	)
	if f, e := elf.Open(path); e == nil {
		defer f.Close()
		data, err = f.DWARF()
		order = f.ByteOrder
	} else if f, e := macho.Open(path); e == nil {
		defer f.Close()
		data, err = f.DWARF()
		order = f.ByteOrder
	} else if f, e := pe.Open(path); e == nil {
		defer f.Close()
		data, err = f.DWARF()
		order = binary.LittleEndian
	} else {
		if _, statErr := os.Stat(path); statErr != nil {
			return nil, nil, statErr
		}
		return nil, nil, fmt.Errorf("%s is not an ELF, Mach-O or PE executable", path)
	}
	if err != nil {
		return nil, nil, &noDebugInfoError{Path: path, Err: err}
	}
	return data, order, nil
}

// loadedImage is what v held when the program was loaded, as the file
// holds it, when v is initialised pointer-free data (a pointer-free
// variable with a non-zero initial value, such as `var depth = 1`); else
// nil.
func (ix *index) loadedImage(v variable) []byte {
	if v.Size <= 0 || v.Addr < ix.noptrAddr || v.Addr-ix.noptrAddr+uint64(v.Size) > uint64(len(ix.noptr)) {
		return nil
	}
	at := v.Addr - ix.noptrAddr
	return ix.noptr[at : at+uint64(v.Size) : at+uint64(v.Size)]
}

// Path is the file the index was read from.
func (ix *index) Path() string { return ix.path }

// Packages returns the import paths of every package in the binary, sorted.
func (ix *index) Packages() []string {
	return append([]string(nil), ix.names...)
}

// Variables returns the package-level variables of the packages for which
// inScope returns true (every package when inScope is nil), sorted by name.
func (ix *index) Variables(inScope func(pkg string) bool) ([]variable, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	var pkgs []string
	for _, pkg := range ix.names {
		if inScope == nil || inScope(pkg) {
			pkgs = append(pkgs, pkg)
		}
	}
	if err := ix.scan(pkgs); err != nil {
		return nil, err
	}
	var out []variable
	for _, pkg := range pkgs {
		vs, err := ix.packageVars(pkg)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Lookup returns the variable with the fully qualified name, such as
// "mime.mimeTypes".
func (ix *index) Lookup(name string) (variable, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, pkg := range ix.packagesOf(name) {
		vs, err := ix.packageVars(pkg)
		if err != nil {
			return variable{}, false
		}
		for _, v := range vs {
			if v.Name == name {
				return v, true
			}
		}
	}
	return variable{}, false
}

// Find returns the variable with the fully qualified name, like Lookup,
// without reading the other entries of its package: a large package (the
// runtime's unit is the largest) takes tens of milliseconds to read, and ten
// times that while a check records every allocation. Go writes a variable's
// name into its entry, so in an ELF executable the entry is found by the
// bytes of its name and read alone; other executables are read by Lookup.
func (ix *index) Find(name string) (variable, bool) {
	if ix.info == nil {
		return ix.Lookup(name)
	}
	return ix.findIn(name)
}

// findIn finds the entry of the variable named by searching ix.info for
// the name as the entry spells it, for each package the name can be in.
func (ix *index) findIn(name string) (variable, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, pkg := range ix.packagesOf(name) {
		if v, ok := ix.findSymbol(pkg, stack.SymbolPrefix(pkg)+name[len(pkg):]); ok {
			return v, true
		}
	}
	return variable{}, false
}

// findSymbol finds the entry of package pkg's variable whose DWARF name is
// sym. ix.mu is held.
func (ix *index) findSymbol(pkg, sym string) (variable, bool) {
	needle := append([]byte(sym), 0)
	for at := 0; ; {
		i := bytes.Index(ix.info[at:], needle)
		if i < 0 {
			return variable{}, false
		}
		at += i
		// The entry starts with its abbreviation code, one or two bytes
		// of ULEB128 before the name, its first attribute.
		for back := 1; back <= 2 && at >= back; back++ {
			r := ix.data.Reader()
			off := dwarf.Offset(at - back)
			r.Seek(off)
			e, err := r.Next()
			if err != nil || e == nil || e.Offset != off || e.Tag != dwarf.TagVariable || e.Val(dwarf.AttrName) != sym {
				continue
			}
			if v, ok := ix.variable(pkg, e); ok {
				return v, true
			}
		}
		at++
	}
}

// packagesOf returns the packages of the binary whose path, followed by a
// dot, prefixes name, longest first: "a/b.c" is in "a/b", and
// "gopkg.in/yaml.v3.x" in "gopkg.in/yaml.v3" if there is one.
func (ix *index) packagesOf(name string) []string {
	var out []string
	for i := len(name) - 1; i > 0; i-- {
		if name[i] != '.' || strings.Contains(name[i+1:], "/") {
			continue
		}
		if _, ok := ix.units[name[:i]]; ok {
			out = append(out, name[:i])
		}
	}
	return out
}

// scan reads the variable entries of the packages not read yet, with one
// reader per CPU: walking every entry of a unit dominates the cost of an
// index. ix.mu is held.
func (ix *index) scan(pkgs []string) error {
	var unread []string
	for _, p := range pkgs {
		if _, ok := ix.vars[p]; !ok {
			unread = append(unread, p)
		}
	}
	if len(unread) == 0 {
		return nil
	}
	entries := make([][]*dwarf.Entry, len(unread))
	errs := make([]error, len(unread))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(runtime.GOMAXPROCS(0), len(unread)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(unread) {
					return
				}
				entries[i], errs[i] = ix.variableEntries(unread[i])
			}
		}()
	}
	wg.Wait()
	for i, pkg := range unread {
		if errs[i] != nil {
			return errs[i]
		}
		var vs []variable
		for _, e := range entries[i] {
			if v, ok := ix.variable(pkg, e); ok {
				vs = append(vs, v)
			}
		}
		ix.vars[pkg] = vs
	}
	return nil
}

// packageVars returns the variables of one package; ix.mu is held.
func (ix *index) packageVars(pkg string) ([]variable, error) {
	if vs, ok := ix.vars[pkg]; ok {
		return vs, nil
	}
	if err := ix.scan([]string{pkg}); err != nil {
		return nil, err
	}
	return ix.vars[pkg], nil
}

// function returns the entry address DWARF records for package pkg's
// function whose name, as the binary spells it, is sym ("mime.initMime"):
// the linker lists every function of a unit, also when the compiler wrote
// no debug info of its own (-gcflags=-dwarf=false).
func (ix *index) function(pkg, sym string) (uint64, bool) {
	for e, err := range ix.topEntries(pkg) {
		if err != nil {
			return 0, false
		}
		if e.Tag == dwarf.TagSubprogram && e.Val(dwarf.AttrName) == sym {
			pc, ok := e.Val(dwarf.AttrLowpc).(uint64)
			return pc, ok
		}
	}
	return 0, false
}

// variableEntries returns the top-level variable entries of a package's
// units. It touches no shared state, so packages can be read in parallel.
func (ix *index) variableEntries(pkg string) ([]*dwarf.Entry, error) {
	var vs []*dwarf.Entry
	for e, err := range ix.topEntries(pkg) {
		if err != nil {
			return nil, err
		}
		if e.Tag == dwarf.TagVariable {
			vs = append(vs, e)
		}
	}
	return vs, nil
}

// topEntries yields the top-level entries of package pkg's units (their
// own children skipped), or the error that ends the walk. It touches no
// shared state.
func (ix *index) topEntries(pkg string) iter.Seq2[*dwarf.Entry, error] {
	return func(yield func(*dwarf.Entry, error) bool) {
		for _, off := range ix.units[pkg] {
			r := ix.data.Reader()
			r.Seek(off)
			cu, err := r.Next()
			if err != nil || cu == nil {
				yield(nil, fmt.Errorf("reading compile unit %s at offset %#x: %v", pkg, off, err))
				return
			}
			for {
				e, err := r.Next()
				if err != nil {
					yield(nil, fmt.Errorf("reading compile unit %s at offset %#x: %w", pkg, off, err))
					return
				}
				if e == nil || e.Tag == 0 {
					break
				}
				if !yield(e, nil) {
					return
				}
				if e.Children {
					r.SkipChildren()
				}
			}
		}
	}
}

func (ix *index) variable(pkg string, e *dwarf.Entry) (variable, bool) {
	name, _ := e.Val(dwarf.AttrName).(string)
	loc, _ := e.Val(dwarf.AttrLocation).([]byte)
	typ, _ := e.Val(dwarf.AttrType).(dwarf.Offset)
	// The name spells the path as symbols do: "gopkg.in/yaml%2ev3.x".
	prefix := stack.SymbolPrefix(pkg)
	if !strings.HasPrefix(name, prefix+".") || len(loc) != 9 || loc[0] != 0x03 || typ == 0 {
		return variable{}, false
	}
	short := name[len(prefix)+1:]
	// Compiler-made symbols: pkg..inittask, pkg..stmp_1, pkg..dict.T[...], pkg.x·1.
	if short == "" || short[0] == '.' || short == "_" || strings.ContainsAny(short, ".·[$") {
		return variable{}, false
	}
	ti := ix.typeInfo(typ)
	if prefix != pkg {
		name = pkg + "." + short // named by the import path
	}
	return variable{
		Name:        name,
		Package:     pkg,
		Addr:        ix.order.Uint64(loc[1:]),
		Size:        ti.size,
		TypeName:    ti.name,
		RuntimeType: ti.runtime,
		typ:         typ,
	}, true
}

// offsets returns the offset of each member on path, each in the struct
// type reached from the one before (the first from typ): typedefs are looked
// through, and pointers, slices and arrays followed to their elements.
func (ix *index) offsets(typ dwarf.Offset, path []string) ([]int64, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make([]int64, 0, len(path))
	for _, name := range path {
		ti := ix.typeInfo(typ)
		for hops := 0; ti.tag != dwarf.TagStructType || ti.kind == int64(reflect.Slice); hops++ {
			next := ti.under
			if ti.kind == int64(reflect.Slice) {
				next = ti.elem
			}
			if next == 0 || hops > 8 {
				return nil, false
			}
			ti = ix.typeInfo(next)
		}
		found := false
		for _, m := range ti.members {
			if m.name == name {
				out, typ, found = append(out, m.offset), m.typ, true
				break
			}
		}
		if !found {
			return nil, false
		}
	}
	return out, true
}

func (ix *index) typeInfo(off dwarf.Offset) typeInfo {
	if ti, ok := ix.types[off]; ok {
		return ti
	}
	ti := typeInfo{runtime: -1, size: -1, count: -1}
	r := ix.data.Reader()
	r.Seek(off)
	if e, err := r.Next(); err == nil && e != nil {
		ti.tag = e.Tag
		ti.name, _ = e.Val(dwarf.AttrName).(string)
		ti.kind, _ = e.Val(attrGoKind).(int64)
		ti.under, _ = e.Val(dwarf.AttrType).(dwarf.Offset)
		ti.key, _ = e.Val(attrGoKey).(dwarf.Offset)
		ti.elem, _ = e.Val(attrGoElem).(dwarf.Offset)
		if e.Tag == dwarf.TagPointerType && ti.size < 0 {
			ti.size = int64(ix.data.Reader().AddressSize())
		}
		if e.Tag == dwarf.TagStructType && e.Children {
			for {
				m, err := r.Next()
				if err != nil || m == nil || m.Tag == 0 {
					break
				}
				if m.Tag != dwarf.TagMember {
					continue
				}
				mb := member{}
				mb.name, _ = m.Val(dwarf.AttrName).(string)
				mb.offset, _ = m.Val(dwarf.AttrDataMemberLoc).(int64)
				mb.typ, _ = m.Val(dwarf.AttrType).(dwarf.Offset)
				ti.members = append(ti.members, mb)
			}
		}
		if e.Tag == dwarf.TagArrayType && e.Children {
			if sub, err := r.Next(); err == nil && sub != nil && sub.Tag == dwarf.TagSubrangeType {
				ti.count, _ = sub.Val(dwarf.AttrCount).(int64)
			}
		}
		if s, ok := e.Val(dwarf.AttrByteSize).(int64); ok {
			ti.size = s
		}
		switch rt := e.Val(attrGoRuntimeType).(type) {
		case uint64:
			ti.runtime = int64(rt)
		case int64:
			ti.runtime = rt
		}
		if e.Tag == dwarf.TagTypedef && (ti.size < 0 || ti.runtime <= 0) {
			// Some names (error, for one) are a typedef of a typedef that
			// carries the layout and the runtime type.
			if under, ok := e.Val(dwarf.AttrType).(dwarf.Offset); ok && under != off {
				u := ix.typeInfo(under)
				if ti.size < 0 {
					ti.size = u.size
				}
				if ti.runtime <= 0 {
					ti.runtime = u.runtime
				}
			}
		}
	}
	ix.types[off] = ti
	return ti
}
