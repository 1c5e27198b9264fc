package fds

import (
	"reflect"
	"runtime"
	"runtime/debug"
	"sync"
	"unsafe"

	"github.com/residue-go/residue/internal/debuginfo"
)

// A descriptor whose os.File or net.Conn the program can no longer reach is
// closed by nothing but that object's finalizer: the GC that finds the
// object unreachable queues the finalizer, and while the probe holds the
// queue (finalizers.go) it does not run. Such a descriptor is left open
// however long the settle window lasts, so the probe reports it as soon as
// it finds it queued rather than waiting the window out.
//
// The queue is read from the runtime's own list of finalizer blocks
// (runtime.allfin), whose address the binary's debug info gives: there is
// no API for it. Each block holds a count and an array of entries; an entry
// names the object, the finalizer and the object's pointer type. An entry
// counts only when its type is *net.netFD (the finalizer of every net.Conn
// and net.Listener) or *os.file (that of every *os.File), by name, and its
// descriptor number is read from the object's poll.FD. The layout is the
// one of the Go releases listed in droppedReleases; on others, and in binaries
// without debug info, nothing is found and the window is waited as before.

// droppedReleases are the Go releases whose runtime.finBlock and
// runtime.finalizer have the layout dropped reads:
//
//	type finBlock struct { alllink, next *finBlock; cnt uint32; _ int32; fin [N]finalizer }
//	type finalizer struct { fn *funcval; arg unsafe.Pointer; nret uintptr; fint *_type; ot *ptrtype }
var droppedReleases = []string{"go1.26", "go1.27"}

const (
	ptrSize        = unsafe.Sizeof(uintptr(0))
	finBlockSize   = 4 << 10
	finCountOff    = 2 * ptrSize
	finEntriesOff  = 2*ptrSize + 8
	finEntrySize   = 5 * ptrSize
	finEntryArgOff = ptrSize
	finEntryTypOff = 4 * ptrSize
	finBlockCap    = (finBlockSize - finEntriesOff) / finEntrySize
	// maxFinBlocks bounds the walk of the block list, so that a list that
	// is not what it seems cannot loop. The runtime never frees a block:
	// a process that once had more than this many (about 1.6 million
	// finalizers queued at once) is not read again, and its runs wait out
	// their windows as without debug info.
	maxFinBlocks = 1 << 14
)

// finOwner is a kind of Go object that owns a descriptor and closes it in its
// finalizer.
type finOwner struct {
	sysfd  uintptr // offset of poll.FD.Sysfd in the object
	socket bool    // the descriptor is always a socket
	name   string  // what the user holds: "net.Conn" or "*os.File"
}

// ownerKinds are the objects whose finalizers close descriptors, by the name
// of their pointer type. They are recognised by that name in the queue
// rather than by a type taken from their packages: importing net for its
// type would link net, and with it cgo's checks, into every binary checked.
var ownerKinds = []struct {
	typ, name string
	socket    bool
}{
	{"*net.netFD", "net.Conn", true}, // every net.Conn and net.Listener
	{"*os.file", "*os.File", false},  // every *os.File
}

// ownerTypes classifies, by runtime type descriptor, the pointer types met
// in the queue: an owner, or nil. Used with finalizers locked.
var ownerTypes = map[uintptr]*finOwner{}

// queueHead is the address of runtime.allfin, nil when the queue cannot be
// read here (another Go release, no debug info).
var queueHead = sync.OnceValue(func() unsafe.Pointer {
	if !debuginfo.Running(droppedReleases...) {
		return nil
	}
	head, _ := debuginfo.Variable("runtime.allfin")
	return head
})

// ownerOfType classifies the pointer type whose descriptor is at typ.
//
//go:nocheckptr
func ownerOfType(typ uintptr) *finOwner {
	var e any
	(*[2]unsafe.Pointer)(unsafe.Pointer(&e))[0] = unsafe.Add(nil, typ)
	t := reflect.TypeOf(e)
	if t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	for _, k := range ownerKinds {
		if t.String() != k.typ {
			continue
		}
		pfd, ok := t.Elem().FieldByName("pfd")
		if !ok || pfd.Type.String() != "poll.FD" {
			return nil
		}
		sysfd, ok := pfd.Type.FieldByName("Sysfd")
		if !ok || sysfd.Type.Kind() != reflect.Int {
			return nil
		}
		return &finOwner{sysfd: pfd.Offset + sysfd.Offset, socket: k.socket, name: k.name}
	}
	return nil
}

// droppedDescriptors returns the numbers of the descriptors whose owning
// object's finalizer is queued and has not run, with the kind of owner; ok
// is false when the queue cannot be read here. Called
// with finalizers locked and the queue held by the sentinel: no queued
// finalizer can run, so every object named by an entry is alive.
func droppedDescriptors() (fds map[int]*finOwner, ok bool) {
	head := queueHead()
	if head == nil {
		return nil, false
	}
	// The address comes from the debug info of the file the process was
	// started from; should it be wrong all the same, a read that faults
	// ends the search instead of the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if recover() != nil {
			fds, ok = nil, false
		}
	}()
	fds = map[int]*finOwner{}
	b := loadWord(uintptr(head))
	for n := 0; b != 0; n++ {
		if n == maxFinBlocks {
			return nil, false
		}
		count := uintptr(loadUint32(b + finCountOff))
		if count > finBlockCap {
			return nil, false
		}
		for i := range count {
			e := b + finEntriesOff + i*finEntrySize
			typ, arg := loadWord(e+finEntryTypOff), loadWord(e+finEntryArgOff)
			if arg == 0 {
				continue
			}
			o, seen := ownerTypes[typ]
			if !seen {
				o = ownerOfType(typ)
				ownerTypes[typ] = o
			}
			if o != nil {
				if fd := int(loadWord(arg + o.sysfd)); fd >= 0 {
					fds[fd] = o
				}
			}
		}
		b = loadWord(b) // alllink
	}
	return fds, true
}

// The queue's blocks are runtime memory outside the heap, and the objects
// its entries name are kept alive by it; both are read one word at a time
// by address, without the race detector's instrumentation (the words were
// written by the GC and by goroutines the reader has no ordering with) and
// without checkptr (the addresses come from memory, not from Go pointers).

//go:norace
//go:nocheckptr
func loadWord(addr uintptr) uintptr {
	return *(*uintptr)(unsafe.Add(nil, addr))
}

//go:norace
//go:nocheckptr
func loadUint32(addr uintptr) uint32 {
	return *(*uint32)(unsafe.Add(nil, addr))
}

// dropped returns the numbers of the descriptors whose owners are queued for
// finalization (droppedDescriptors), when the sentinel holds the queue now
// and no finalizer can have run behind the run's back (the ticket was
// neither broken nor stepped aside from); ok is false otherwise.
func (t *holdTicket) dropped() (fds map[int]*finOwner, ok bool) {
	finalizers.Lock()
	defer finalizers.Unlock()
	if finalizers.release == nil || t.broken || t.aside {
		return nil, false
	}
	return droppedDescriptors()
}

// provedDropped reports whether every one of left is dropped: its owner was
// found unreachable and its finalizer waits behind the hold, so nothing will
// close it before the window ends. It marks those found so (FD.Dropped).
// attributed says whether the attribution has just run, with its GCs and
// its count of the block's goroutines; otherwise both are done again on
// the attempts Settle numbers with a power of two, so that an owner
// dropped after the last GC is found queued within a few looks.
//
// A number is matched to its owner by the number alone, so a descriptor
// with a second owner that may still close it (os.NewFile over the number
// of a connection the program keeps, the wrapper dropped) would be taken
// for dropped: nothing is proven while the run holds more owners than it
// has new descriptors. And while a goroutine of the block's is still
// alive, it may open more before the window ends, which the report would
// then miss: the window is waited, as the goroutine probe waits it.
func (s *settling) provedDropped(left []*candidate, attempt int, attributed bool) bool {
	// The owners are counted from the memory profile: once its recording
	// stopped, some may be missing (see memprof.StackBudget).
	if !attributed && attempt&(attempt-1) != 0 || s.held.owners > s.opened || s.r.StacksStopped() || queueHead() == nil {
		return false
	}
	if attributed && s.held.goroutines > 0 || !attributed && findRunGoroutines(s.r).others > 0 {
		return false
	}
	if !attributed {
		runtime.GC()
	}
	fds, ok := s.p.hold.dropped()
	if !ok {
		return false
	}
	all := true
	for _, c := range left {
		c.fd.Dropped, c.fd.droppedBy = false, ""
		if o := fds[c.fd.Num]; o != nil && (!o.socket || c.fd.entry().isSocket()) {
			c.fd.Dropped, c.fd.droppedBy = true, o.name
		}
		all = all && c.fd.Dropped
	}
	return all
}
