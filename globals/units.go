package globals

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// readELF loads only the DWARF sections that describe variables and types
// (not line tables, frames or location lists), each decompressed once, and
// lists the offset of every unit's first entry from the unit headers alone,
// so that listing packages does not parse the entries inside each unit.
//
// info is the .debug_info section as the reader decodes it, which Find
// searches by bytes.
func readELF(path string, f *elf.File) (data *dwarf.Data, order binary.ByteOrder, offsets []dwarf.Offset, info []byte, err error) {
	load := func(name string) ([]byte, error) {
		s := f.Section(".debug_" + name)
		if s == nil {
			return nil, nil
		}
		b, err := s.Data()
		if err != nil {
			return nil, fmt.Errorf("reading .debug_%s of %s: %w", name, path, err)
		}
		return b, nil
	}
	info, err = load("info")
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if len(info) == 0 {
		return nil, nil, nil, nil, &noDebugInfoError{Path: path, Err: fmt.Errorf("no .debug_info section")}
	}
	sections := map[string][]byte{"info": info}
	for _, name := range []string{"abbrev", "str", "ranges", "addr", "line_str", "str_offsets", "rnglists"} {
		if sections[name], err = load(name); err != nil {
			return nil, nil, nil, nil, err
		}
	}
	data, err = dwarf.New(sections["abbrev"], nil, nil, info, nil, nil, sections["ranges"], sections["str"])
	if err != nil {
		return nil, nil, nil, nil, &noDebugInfoError{Path: path, Err: err}
	}
	for _, name := range []string{"addr", "line_str", "str_offsets", "rnglists"} {
		if b := sections[name]; b != nil {
			if err := data.AddSection(".debug_"+name, b); err != nil {
				return nil, nil, nil, nil, fmt.Errorf("reading .debug_%s of %s: %w", name, path, err)
			}
		}
	}
	offsets, err = unitHeaders(info, f.ByteOrder)
	return data, f.ByteOrder, offsets, info, err
}

// unitHeaders walks the unit headers of a .debug_info section and returns
// the offset of each unit's first entry.
func unitHeaders(info []byte, order binary.ByteOrder) ([]dwarf.Offset, error) {
	var out []dwarf.Offset
	for off := uint64(0); off < uint64(len(info)); {
		if uint64(len(info))-off < 4 {
			return nil, fmt.Errorf("decoding .debug_info: unit header at offset %#x is truncated", off)
		}
		length := uint64(order.Uint32(info[off:]))
		header := uint64(4)
		if length == 0xffffffff {
			if uint64(len(info))-off < 12 {
				return nil, fmt.Errorf("decoding .debug_info: 64-bit unit header at offset %#x is truncated", off)
			}
			length = order.Uint64(info[off+4:])
			header = 12
		}
		next := off + header + length
		if next <= off || next > uint64(len(info)) || length < 7 {
			return nil, fmt.Errorf("decoding .debug_info: unit at offset %#x claims %d bytes, past the section's end", off, length)
		}
		version := order.Uint16(info[off+header:])
		first := off + header + 7 // version, abbrev offset, address size
		if version >= 5 {
			first++ // and the unit type
		}
		if header == 12 {
			first += 4 // a 64-bit abbrev offset
		}
		out = append(out, dwarf.Offset(first))
		off = next
	}
	return out, nil
}

// walkUnits lists the units of formats other than ELF by walking every
// entry: slower, but needs nothing beyond debug/dwarf.
func walkUnits(data *dwarf.Data) ([]dwarf.Offset, error) {
	var out []dwarf.Offset
	r := data.Reader()
	for {
		e, err := r.Next()
		if err != nil {
			return nil, err
		}
		if e == nil {
			return out, nil
		}
		if e.Tag == dwarf.TagCompileUnit {
			out = append(out, e.Offset)
		}
		r.SkipChildren()
	}
}
