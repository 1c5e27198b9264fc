package alloc

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/pprof"
	"sync"
)

// location is one program counter of the heap profile with its frames,
// innermost (inlined) first.
type location struct {
	frames []Frame
}

// sample is one record of the heap profile: the allocations made so far at
// one stack, with cumulative counts.
type sample struct {
	stack   []*location // innermost first
	objects int64       // allocated since the process started
	bytes   int64
}

// frames returns the sample's frames, innermost first.
func (s *sample) frames() []Frame {
	var out []Frame
	for _, l := range s.stack {
		out = append(out, l.frames...)
	}
	return out
}

// heapProfile is one read of the heap profile.
type heapProfile struct {
	samples []sample
}

var profileBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// readHeapProfile returns every record of the heap profile with its full
// stack. runtime.MemProfile keeps only the innermost 32 frames of each stack,
// which loses the marker frame of a block that allocates deep in its call
// tree; the heap profile in pprof's protocol-buffer form keeps up to the
// runtime's profiling depth (GODEBUG=profstackdepth, 128 by default). Its
// figures are scaled by the sampling rate, so only its stacks are used.
//
// Like probes.MemProfile it runs two GC cycles first: the runtime publishes
// allocations to the profile only when a cycle ends.
func readHeapProfile() (*heapProfile, error) {
	runtime.GC()
	runtime.GC()
	buf := profileBuffers.Get().(*bytes.Buffer)
	defer profileBuffers.Put(buf)
	buf.Reset()
	if err := pprof.Lookup("heap").WriteTo(buf, 0); err != nil {
		return nil, fmt.Errorf("reading the heap profile: %w", err)
	}
	zr, err := gzip.NewReader(buf)
	if err != nil {
		return nil, fmt.Errorf("reading the heap profile: %w", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("reading the heap profile: %w", err)
	}
	return decodeHeapProfile(raw)
}

// Field numbers of profile.proto (github.com/google/pprof/proto/profile.proto).
const (
	profileSample      = 2
	profileLocation    = 4
	profileFunction    = 5
	profileStringTable = 6
	sampleLocationID   = 1
	sampleValue        = 2
	locationID         = 1
	locationAddress    = 3
	locationLine       = 4
	lineFunctionID     = 1
	lineLine           = 2
	functionID         = 1
	functionName       = 2
	functionFilename   = 4
)

type rawSample struct {
	locs   []uint64
	values []int64
}

type rawLine struct {
	fn   uint64
	line int64
}

type rawLocation struct {
	addr  uint64
	lines []rawLine
}

type rawFunction struct {
	name, file int64
}

var errTruncated = errors.New("truncated heap profile")

// decodeHeapProfile decodes the uncompressed protocol buffer of a heap profile.
func decodeHeapProfile(b []byte) (*heapProfile, error) {
	var (
		samples []rawSample
		locs    = map[uint64]rawLocation{}
		funcs   = map[uint64]rawFunction{}
		strs    []string
	)
	err := eachField(b, func(num int, v uint64, data []byte) error {
		switch num {
		case profileSample:
			var s rawSample
			err := eachField(data, func(num int, v uint64, data []byte) error {
				switch num {
				case sampleLocationID:
					s.locs = appendPacked(s.locs, v, data)
				case sampleValue:
					for _, u := range appendPacked(nil, v, data) {
						s.values = append(s.values, int64(u))
					}
				}
				return nil
			})
			samples = append(samples, s)
			return err
		case profileLocation:
			var id uint64
			var l rawLocation
			err := eachField(data, func(num int, v uint64, data []byte) error {
				switch num {
				case locationID:
					id = v
				case locationAddress:
					l.addr = v
				case locationLine:
					var ln rawLine
					err := eachField(data, func(num int, v uint64, _ []byte) error {
						switch num {
						case lineFunctionID:
							ln.fn = v
						case lineLine:
							ln.line = int64(v)
						}
						return nil
					})
					l.lines = append(l.lines, ln)
					return err
				}
				return nil
			})
			locs[id] = l
			return err
		case profileFunction:
			var id uint64
			var f rawFunction
			err := eachField(data, func(num int, v uint64, _ []byte) error {
				switch num {
				case functionID:
					id = v
				case functionName:
					f.name = int64(v)
				case functionFilename:
					f.file = int64(v)
				}
				return nil
			})
			funcs[id] = f
			return err
		case profileStringTable:
			strs = append(strs, string(data))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return ""
		}
		return strs[i]
	}
	built := make(map[uint64]*location, len(locs))
	for id, l := range locs {
		loc := &location{frames: make([]Frame, len(l.lines))}
		for i, ln := range l.lines {
			f := funcs[ln.fn]
			loc.frames[i] = Frame{Func: str(f.name), File: str(f.file), Line: int(ln.line)}
		}
		built[id] = loc
	}
	p := &heapProfile{samples: make([]sample, 0, len(samples))}
	for _, s := range samples {
		if len(s.values) < 2 {
			continue
		}
		sm := sample{objects: s.values[0], bytes: s.values[1], stack: make([]*location, len(s.locs))}
		for i, id := range s.locs {
			sm.stack[i] = built[id]
		}
		p.samples = append(p.samples, sm)
	}
	return p, nil
}

// maxProfileDepth is the runtime's default profiling stack depth
// (GODEBUG=profstackdepth).
const maxProfileDepth = 128

// appendPacked appends a repeated varint field, packed (data set) or not.
func appendPacked(dst []uint64, v uint64, data []byte) []uint64 {
	if data == nil {
		return append(dst, v)
	}
	for len(data) > 0 {
		u, n := binary.Uvarint(data)
		if n <= 0 {
			return dst
		}
		dst = append(dst, u)
		data = data[n:]
	}
	return dst
}

// eachField calls fn for each field of a protocol buffer message: v for
// varint fields, data (non-nil) for length-delimited ones.
func eachField(b []byte, fn func(num int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		num, wire := int(tag>>3), tag&7
		switch wire {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
			if err := fn(num, v, nil); err != nil {
				return err
			}
		case 1:
			if len(b) < 8 {
				return errTruncated
			}
			b = b[8:]
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			data := b[n : n+int(l)]
			b = b[n+int(l):]
			if data == nil {
				data = []byte{}
			}
			if err := fn(num, 0, data); err != nil {
				return err
			}
		case 5:
			if len(b) < 4 {
				return errTruncated
			}
			b = b[4:]
		default:
			return fmt.Errorf("heap profile: unknown wire type %d", wire)
		}
	}
	return nil
}
