//go:build unix

package globals

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"unsafe"

	"github.com/residue-go/residue/internal/memprof"
)

// settingsNote says which process settings are compared, for the docs and
// the clean-verdict message.
const settingsNote = "GOMAXPROCS, GC percent, memory limit, umask, resource limits, " +
	"ignored signals, signals delivered to channels, memory and mutex profiling rates, and the standard streams"

// processSettings reads the process settings a block can change, each
// without changing it and without reading memory another goroutine may be
// writing: the runtime's own getters and metrics, /proc, the signal
// package's locked query.
func processSettings() []setting {
	var out []setting
	add := func(name, value string) { out = append(out, setting{name, value}) }

	add("GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0)))
	samples := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(samples)
	for _, s := range samples {
		if s.Value.Kind() != metrics.KindUint64 {
			continue
		}
		v := s.Value.Uint64()
		switch s.Name {
		case "/gc/gogc:percent":
			add("GC percent", strconv.FormatUint(v, 10))
		case "/gc/gomemlimit:bytes":
			add("memory limit", strconv.FormatUint(v, 10))
		}
	}
	if u, ok := umask(); ok {
		add("umask", u)
	}
	for _, r := range rlimits {
		var l syscall.Rlimit
		if err := syscall.Getrlimit(r.resource, &l); err == nil {
			add("resource limit "+r.name, limitText(l.Cur)+" (max "+limitText(l.Max)+")")
		}
	}
	var ignored []string
	for sig := syscall.Signal(1); sig < 32; sig++ {
		if signal.Ignored(sig) {
			ignored = append(ignored, sig.String())
		}
	}
	add("ignored signals", strings.Join(ignored, ", "))
	if notified, ok := notifiedSignals(); ok {
		add("signals delivered to channels (signal.Notify)", notified)
	}
	add("runtime.MemProfileRate", strconv.Itoa(memprof.UserRate()))
	add("mutex profile fraction", strconv.Itoa(runtime.SetMutexProfileFraction(-1)))
	for i, name := range []string{"standard input", "standard output", "standard error"} {
		add(name, streamTarget(i))
	}
	return out
}

// rlimits are the resource limits compared.
var rlimits = []struct {
	name     string
	resource int
}{
	{"RLIMIT_NOFILE", syscall.RLIMIT_NOFILE},
	{"RLIMIT_CORE", syscall.RLIMIT_CORE},
	{"RLIMIT_STACK", syscall.RLIMIT_STACK},
	{"RLIMIT_AS", syscall.RLIMIT_AS},
	{"RLIMIT_CPU", syscall.RLIMIT_CPU},
	{"RLIMIT_FSIZE", syscall.RLIMIT_FSIZE},
	{"RLIMIT_DATA", syscall.RLIMIT_DATA},
}

// umask reads the process's file mode creation mask from /proc: setting it
// to read it, as syscall.Umask does, would change it for a moment under
// every other goroutine. It reads with system calls of its own, into a
// buffer on its stack: an *os.File costs a poller registration, a stat
// and a finalizer, twice per check.
func umask() (string, bool) {
	fd, err := syscall.Open("/proc/self/status", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer syscall.Close(fd)
	var buf [4096]byte
	n := 0
	for n < len(buf) {
		m, err := syscall.Read(fd, buf[n:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			break
		}
		n += m
	}
	const field = "\nUmask:"
	text := buf[:n]
	i := bytes.Index(text, []byte(field))
	if i < 0 {
		return "", false
	}
	v := text[i+len(field):]
	if end := bytes.IndexByte(v, '\n'); end >= 0 {
		v = v[:end]
	} else if n == len(buf) {
		return "", false // cut: the file is longer than the buffer
	}
	return string(bytes.TrimSpace(v)), true
}

func limitText(v uint64) string {
	if v == ^uint64(0) {
		return "unlimited"
	}
	return strconv.FormatUint(v, 10)
}

// streamTarget says what descriptor fd (0, 1 or 2) refers to, so that a
// block that redirects a standard stream (dup2) is seen. The path is read
// from /proc once per file the stream refers to (device and inode, which a
// stat gives at a tenth of a readlink's cost there).
func streamTarget(fd int) string {
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		return "closed"
	}
	id := streamFile{uint64(st.Dev), uint64(st.Ino)}
	streamTargets.Lock()
	last := streamTargets.of[fd]
	streamTargets.Unlock()
	if last.file == id {
		return last.target
	}
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Sprintf("device %d inode %d", st.Dev, st.Ino)
	}
	streamTargets.Lock()
	streamTargets.of[fd] = streamRead{id, target}
	streamTargets.Unlock()
	return target
}

// streamFile is the file a descriptor refers to.
type streamFile struct{ dev, ino uint64 }

type streamRead struct {
	file   streamFile
	target string
}

// streamTargets holds the path last read for each standard stream, by the
// file it was read for.
var streamTargets struct {
	sync.Mutex
	of [3]streamRead
}

// notifiedSignals lists the signals that signal.Notify delivers to a
// channel, read from os/signal's handler table under the table's own lock.
// ok is false when the binary has no such table (os/signal is not linked
// in, so nothing can call Notify), has no debug info, or the table is not
// laid out as expected.
func notifiedSignals() (string, bool) {
	t, ok := signalTable()
	if !ok {
		return "", false
	}
	var names []string
	t.lock.Lock()
	for sig := 1; sig < len(t.refs); sig++ {
		if t.refs[sig] > 0 {
			names = append(names, syscall.Signal(sig).String())
		}
	}
	t.lock.Unlock()
	return strings.Join(names, ", "), true
}

// signalRefs is os/signal's handler table: its lock and its count of
// channels per signal.
type signalRefs struct {
	lock *sync.Mutex
	refs []int64
}

// signals is where signalTable keeps the table once found (its lock is
// nil when it cannot be), and whether it looked: an index that could not
// be read for another reason than missing debug info (too many open
// files) is tried again.
var signals struct {
	sync.Mutex
	done  bool
	table signalRefs
}

func signalTable() (signalRefs, bool) {
	signals.Lock()
	defer signals.Unlock()
	if signals.done {
		return signals.table, signals.table.lock != nil
	}
	ix, err := selfIndex()
	if err != nil {
		signals.done = errors.As(err, new(*noDebugInfoError))
		return signalRefs{}, false
	}
	signals.done = true
	v, found := ix.Lookup("os/signal.handlers")
	if !found {
		return signalRefs{}, false
	}
	t, found := ix.value(v)
	if !found || t.Kind() != reflect.Struct {
		return signalRefs{}, false
	}
	mu, ref := t.FieldByName("Mutex"), t.FieldByName("ref")
	if !mu.IsValid() || mu.Type().String() != "sync.Mutex" || mu.Type().Size() != reflect.TypeFor[sync.Mutex]().Size() ||
		!ref.IsValid() || ref.Kind() != reflect.Array || ref.Type().Elem().Kind() != reflect.Int64 {
		return signalRefs{}, false
	}
	signals.table = signalRefs{lock: (*sync.Mutex)(mu.Addr().UnsafePointer()), refs: unsafe.Slice((*int64)(ref.Addr().UnsafePointer()), ref.Len())}
	return signals.table, true
}
