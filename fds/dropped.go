package fds

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"sync"
)

// A descriptor the block dropped without closing stays open, while the probe
// holds the finalizer queue (finalizers.go), until the settle window has
// passed: something else might still close it. When nothing in the program
// refers to its os.File or net.Conn any more, nothing but that finalizer
// can, and the window need not be waited for it. A GC queues the finalizer
// of every such object; the runtime's heap dump (runtime/debug.WriteHeapDump)
// lists the queued finalizers with their objects, and an object's contents
// give the descriptor number it owns (poll.FD.Sysfd, which Close sets to
// -1). droppedFDs reads that.
//
// Whatever goes wrong (no dump on this platform, a heap too large to dump
// cheaply, a dump format this code does not know) proves nothing, and the
// probe waits the window as it would without this.

// canDumpHeap is false where the runtime has a goroutine leak profile (Go
// 1.27, or 1.26 built with GOEXPERIMENT=goroutineleakprofile): once a
// profile has found a leaked goroutine, and until a later one finds none, a
// heap dump aborts the process ("dumpgs in STW - bad status": the dump
// knows no leaked goroutine status), and code outside residue may write
// such a profile at any moment. There the probe waits the window.
var canDumpHeap = pprof.Lookup("goroutineleak") == nil

// maxDumpedHeap bounds the heap, in bytes of live objects, that is dumped to
// look for dropped descriptors: the dump copies it, with the world stopped.
const maxDumpedHeap = 128 << 20

// dumpFileName names the memory file the heap is dumped to. A probe that
// sees it open (a run checking while another dumps) ignores it.
const dumpFileName = "residue-heap-dump"

// droppedFDs returns which of the descriptor numbers given belong to an
// os.File or a net.Conn (a netFD) that is unreachable: a GC found it so and
// queued its finalizer, which the probe's sentinel holds back. It runs a GC,
// then dumps the heap unless worth, asked after the GC, says it is not
// worth it. A number absent from the result is not proven dropped.
func droppedFDs(nums []int, worth func() bool) map[int]bool {
	owners, ok := descriptorOwners()
	if !ok || !canDumpHeap || len(nums) == 0 {
		return nil
	}
	if heapObjectBytes() > maxDumpedHeap {
		return nil
	}
	runtime.GC() // queue the finalizers of what became unreachable since the last cycle
	if !worth() {
		return nil
	}
	want := make(map[int]bool, len(nums))
	for _, n := range nums {
		want[n] = true
	}
	var out map[int]bool
	err := withHeapDump(func(r io.Reader) error {
		var err error
		out, err = queuedOwners(r, owners, want)
		return err
	})
	if err != nil {
		return nil
	}
	return out
}

// fdOwner is a type of object that owns a descriptor and closes it in its
// finalizer: the finalizer's function name, and the offset of the
// descriptor number (poll.FD.Sysfd) in the object.
type fdOwner struct {
	finalizer string
	sysfd     uintptr
}

// descriptorOwners finds, by reflection over the standard library's own
// types, where the descriptor number sits in a net.Conn's netFD and an
// os.File's file. ok is false when the layout is not the one expected.
var descriptorOwners = sync.OnceValues(func() ([]fdOwner, bool) {
	netFD, ok1 := sysfdOffset(reflect.TypeFor[net.TCPConn](), "conn", "fd")
	file, ok2 := sysfdOffset(reflect.TypeFor[os.File](), "file")
	if !ok1 || !ok2 {
		return nil, false
	}
	return []fdOwner{
		{finalizer: "net.(*netFD).Close", sysfd: netFD},
		{finalizer: "os.(*file).close", sysfd: file},
	}, true
})

// sysfdOffset follows the fields named from t to a pointer to the object
// that carries the finalizer, and returns the offset of pfd.Sysfd in it.
func sysfdOffset(t reflect.Type, path ...string) (uintptr, bool) {
	for _, name := range path {
		f, ok := t.FieldByName(name)
		if !ok {
			return 0, false
		}
		t = f.Type
	}
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	pfd, ok := t.Elem().FieldByName("pfd")
	if !ok || pfd.Type.Kind() != reflect.Struct {
		return 0, false
	}
	sysfd, ok := pfd.Type.FieldByName("Sysfd")
	if !ok || sysfd.Type.Kind() != reflect.Int {
		return 0, false
	}
	return pfd.Offset + sysfd.Offset, true
}

// heapObjectBytes is the size of the heap's live and not yet swept objects.
func heapObjectBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Records of the heap dump format the runtime writes (runtime/heapdump.go;
// "go1.7 heap dump"): a tag, then fields, every number an unsigned varint,
// every string or memory range a length and its bytes.
const (
	dumpHeader = "go1.7 heap dump\n"

	tagEOF             = 0
	tagObject          = 1
	tagOtherRoot       = 2
	tagType            = 3
	tagGoroutine       = 4
	tagStackFrame      = 5
	tagParams          = 6
	tagFinalizer       = 7
	tagItab            = 8
	tagOSThread        = 9
	tagMemStats        = 10
	tagQueuedFinalizer = 11
	tagData            = 12
	tagBSS             = 13
	tagDefer           = 14
	tagPanic           = 15
	tagMemProf         = 16
	tagAllocSample     = 17
)

// errDumpFormat is a heap dump this code cannot read.
var errDumpFormat = errors.New("unknown heap dump format")

// dumpReader reads a heap dump's numbers and strings; the first error
// sticks, and later reads return zero.
type dumpReader struct {
	r   *bufio.Reader
	err error
	buf []byte
}

func (d *dumpReader) num() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	if err != nil {
		d.err = err
	}
	return v
}

// nums reads n numbers.
func (d *dumpReader) nums(n int) {
	for range n {
		d.num()
	}
}

// skip reads a string or memory range and drops it.
func (d *dumpReader) skip() {
	n := d.num()
	if d.err == nil {
		_, d.err = d.r.Discard(int(n))
	}
}

// bytes reads a memory range into a buffer reused by the next call.
func (d *dumpReader) bytes() []byte {
	n := d.num()
	if d.err != nil {
		return nil
	}
	if n > 1<<31 {
		d.err = errDumpFormat
		return nil
	}
	if uint64(cap(d.buf)) < n {
		d.buf = make([]byte, n)
	}
	d.buf = d.buf[:n]
	_, d.err = io.ReadFull(d.r, d.buf)
	return d.buf
}

// fields reads a field list: kind and offset pairs up to a zero kind.
func (d *dumpReader) fields() {
	for d.err == nil && d.num() != 0 {
		d.num()
	}
}

// queuedOwners reads a heap dump and returns the descriptor numbers of want
// owned by an object whose finalizer is queued: an object of an fdOwner's
// type (known by its finalizer) whose descriptor field holds the number.
func queuedOwners(r io.Reader, owners []fdOwner, want map[int]bool) (map[int]bool, error) {
	d := &dumpReader{r: bufio.NewReaderSize(r, 1<<20)}
	hdr := make([]byte, len(dumpHeader))
	if _, err := io.ReadFull(d.r, hdr); err != nil || string(hdr) != dumpHeader {
		return nil, errDumpFormat
	}
	byteOrder := binary.ByteOrder(binary.LittleEndian)
	// holds[owner][address] is the wanted number an object holds at that
	// owner's offset. Objects are dumped before the finalizer queue.
	holds := make([]map[uint64]int, len(owners))
	for i := range holds {
		holds[i] = map[uint64]int{}
	}
	out := map[int]bool{}
	for {
		tag := d.num()
		if d.err != nil {
			return nil, d.err
		}
		switch tag {
		case tagEOF:
			return out, nil
		case tagObject:
			addr := d.num()
			contents := d.bytes()
			for i, o := range owners {
				if o.sysfd+8 <= uintptr(len(contents)) {
					if n := int(int64(byteOrder.Uint64(contents[o.sysfd:]))); want[n] {
						holds[i][addr] = n
					}
				}
			}
			d.fields()
		case tagOtherRoot:
			d.skip()
			d.num()
		case tagType:
			d.nums(2)
			d.skip()
			d.num()
		case tagGoroutine:
			d.nums(8)
			d.skip()
			d.nums(4)
		case tagStackFrame:
			d.nums(3)
			d.skip()
			d.nums(3)
			d.skip()
			d.fields()
		case tagParams:
			if d.num() != 0 {
				byteOrder = binary.BigEndian
			}
			if d.num() != 8 {
				return nil, errDumpFormat // the descriptor fields are read as 8 bytes
			}
			d.nums(2)
			d.skip()
			d.skip()
			d.num()
		case tagFinalizer:
			d.nums(5)
		case tagQueuedFinalizer:
			obj := d.num()
			d.num()
			pc := d.num()
			d.nums(2)
			fn := runtime.FuncForPC(uintptr(pc))
			if fn == nil {
				break
			}
			for i, o := range owners {
				if n, ok := holds[i][obj]; ok && fn.Name() == o.finalizer {
					out[n] = true
				}
			}
		case tagItab:
			d.nums(2)
		case tagOSThread:
			d.nums(3)
		case tagMemStats:
			d.nums(24 + 256 + 1) // MemStats' numbers, PauseNs, NumGC
		case tagData, tagBSS:
			d.num()
			d.skip()
			d.fields()
		case tagDefer:
			d.nums(7)
		case tagPanic:
			d.nums(6)
		case tagMemProf:
			d.nums(2)
			frames := d.num()
			for i := uint64(0); i < frames && d.err == nil; i++ {
				d.skip()
				d.skip()
				d.num()
			}
			d.nums(2)
		case tagAllocSample:
			d.nums(2)
		default:
			return nil, fmt.Errorf("%w: record %d", errDumpFormat, tag)
		}
	}
}

// isHeapDump reports whether a descriptor is the memory file another run's
// droppedFDs has open.
func isHeapDump(fd *FD) bool { return strings.HasPrefix(fd.Path, "/memfd:"+dumpFileName) }
