// Package stack parses the two text forms in which the Go runtime describes
// goroutines: the full dump written by runtime.Stack(buf, true) (and by the
// goroutine and goroutineleak profiles at debug=2), and the grouped goroutine
// profile at debug=1, the only text form that carries pprof labels. Groups
// gives what that profile holds, read from the runtime's records where the
// release's layout is known (profile.go).
//
// Parsing never panics: a goroutine whose text does not follow the known
// format keeps its raw text and whatever fields could be read.
package stack

import (
	"bytes"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Frame is one call in a goroutine's stack.
type Frame struct {
	Func string // fully qualified function name, without arguments
	File string
	Line int
}

// Location returns "file:line", or "" when the file is unknown.
func (f Frame) Location() string {
	if f.File == "" {
		return ""
	}
	return f.File + ":" + strconv.Itoa(f.Line)
}

// Goroutine is one goroutine of a full stack dump.
type Goroutine struct {
	ID        uint64
	State     string        // e.g. "chan receive", without the wait time
	Wait      time.Duration // how long the runtime says it has been blocked (minute resolution, 0 under a minute)
	Locked    bool          // locked to its OS thread
	Leaked    bool          // marked "(leaked)" by the goroutineleak profile
	Frames    []Frame       // innermost first
	Elided    bool          // the runtime elided frames
	CreatedBy Frame         // the go statement that started it; zero for the main goroutine
	CreatorID uint64        // the goroutine that ran that go statement; 0 when unknown
	Raw       string        // the goroutine's text as the runtime wrote it

	parsed bool // Frames and Elided have been read from Raw
}

// TopFunction returns the innermost function, or "" when no frame is known.
func (g *Goroutine) TopFunction() string {
	g.ParseFrames()
	if len(g.Frames) == 0 {
		return ""
	}
	return g.Frames[0].Func
}

// Key identifies the goroutine's stack for matching against profile groups:
// its non-runtime frames, innermost first.
func (g *Goroutine) Key() string { g.ParseFrames(); return key(g.Frames) }

// WaitsInTesting reports whether the goroutine is blocked in the testing
// package: its innermost frame outside the runtime and sync is testing's,
// as for a test paused in t.Parallel, a parent waiting for its subtests,
// or m.Run waiting for the tests.
func (g *Goroutine) WaitsInTesting() bool {
	if !strings.Contains(g.Raw, "testing.") {
		return false
	}
	// The frames are read one by one, not parsed all: most goroutines are
	// decided by their first frames, and this runs on every goroutine of
	// each dump, while allocations may be recorded one by one.
	for l, _, rest := nextFrame(frameLines(g.own())); l != ""; l, _, rest = nextFrame(rest) {
		f := funcName(l)
		if IsRuntime(f) || strings.HasPrefix(f, "sync.") || strings.HasPrefix(f, "internal/sync.") {
			continue
		}
		return strings.HasPrefix(f, "testing.")
	}
	return false
}

// frameLines is a goroutine's text after its header line.
func frameLines(own string) string {
	_, rest, _ := strings.Cut(own, "\n")
	return rest
}

// nextFrame reads the next frame of lines (frame lines as a dump writes
// them, the header cut): its function line, its file line ("" when it has
// none), and what follows; fn is "" at the end or at the "created by"
// trailer. Elision notes are skipped.
func nextFrame(lines string) (fn, file, rest string) {
	for lines != "" {
		fn, lines, _ = strings.Cut(lines, "\n")
		switch {
		case strings.HasPrefix(fn, "...") || strings.HasPrefix(fn, "\t"):
			continue
		case strings.HasPrefix(fn, "created by "), fn == "":
			return "", "", ""
		}
		if strings.HasPrefix(lines, "\t") {
			file, lines, _ = strings.Cut(lines, "\n")
		}
		return fn, file, lines
	}
	return "", "", ""
}

// ParseDump parses a full dump. It reads each goroutine's header and creator
// at once; the frames, which dominate the cost of large dumps, are read on
// the first call of ParseFrames, TopFunction or Key. The goroutines' Raw
// texts share dump's memory.
func ParseDump(dump string) []Goroutine {
	out := make([]Goroutine, 0, strings.Count(dump, "\n\ngoroutine ")+1)
	for len(dump) > 0 {
		var block string
		if i := strings.Index(dump, "\n\ngoroutine "); i >= 0 {
			block, dump = dump[:i], dump[i+2:]
		} else {
			block, dump = dump, ""
		}
		block = strings.TrimSpace(block)
		if len(block) == 0 {
			continue
		}
		g, ok := parseHeader(block)
		g.Raw = block
		if ok {
			parseCreator(&g)
		}
		out = append(out, g)
	}
	return out
}

// Caller returns the ID of the goroutine that took a full dump: runtime.Stack
// writes the caller's stack first.
func Caller(dump []byte) (uint64, bool) { return headerID(dump) }

// CallerText is Caller of a dump's text (DumpText).
func CallerText(dump string) (uint64, bool) { return headerID(textBytes(dump)) }

// IDsText is IDs of a dump's text (DumpText).
func IDsText(dump string) map[uint64]bool { return IDs(textBytes(dump)) }

// textBytes is s's bytes, for the readers above that only read them.
func textBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// headerID reads the ID of the "goroutine N [...]" header b starts with.
func headerID(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("goroutine "))
	if !ok {
		return 0, false
	}
	n, i := uint64(0), 0
	for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
		n = n*10 + uint64(rest[i]-'0')
	}
	return n, i > 0
}

// IDs returns the IDs of the goroutines in a full dump, reading nothing but
// the headers.
func IDs(dump []byte) map[uint64]bool {
	ids := make(map[uint64]bool, bytes.Count(dump, []byte("\n\ngoroutine "))+1)
	for len(dump) > 0 {
		if id, ok := headerID(dump); ok {
			ids[id] = true
		}
		i := bytes.Index(dump, []byte("\n\n"))
		if i < 0 {
			break
		}
		dump = dump[i+2:]
	}
	return ids
}

// parseHeader reads "goroutine 7 [chan receive, 2 minutes, locked to thread]:".
func parseHeader(block string) (Goroutine, bool) {
	var g Goroutine
	s, _, _ := strings.Cut(block, "\n")
	if !strings.HasPrefix(s, "goroutine ") {
		return g, false
	}
	rest := s[len("goroutine "):]
	sp := strings.IndexByte(rest, ' ')
	if sp < 0 {
		return g, false
	}
	id, err := strconv.ParseUint(rest[:sp], 10, 64)
	if err != nil {
		return g, false
	}
	g.ID = id
	open, end := strings.IndexByte(rest, '['), strings.LastIndex(rest, "]:")
	if open < 0 || end < open {
		return g, false
	}
	parts := rest[open+1 : end]
	for i := 0; parts != ""; i++ {
		part := parts
		if j := strings.Index(parts, ", "); j >= 0 {
			part, parts = parts[:j], parts[j+2:]
		} else {
			parts = ""
		}
		switch {
		case i == 0:
			g.State = part
		case part == "locked to thread":
			g.Locked = true
		case strings.HasSuffix(part, " minutes"):
			if n, err := strconv.Atoi(strings.TrimSuffix(part, " minutes")); err == nil {
				g.Wait = time.Duration(n) * time.Minute
			}
		default:
			g.State += ", " + part
		}
	}
	if strings.HasSuffix(g.State, " (leaked)") {
		g.Leaked = true
		g.State = strings.TrimSuffix(g.State, " (leaked)")
	}
	return g, true
}

// own returns the part of a goroutine's text that describes it, without the
// "[originating from goroutine N]" ancestors GODEBUG=tracebackancestors adds.
func (g *Goroutine) own() string {
	if i := strings.Index(g.Raw, "\n[originating from goroutine"); i >= 0 {
		return g.Raw[:i]
	}
	return g.Raw
}

// parseCreator reads the "created by" trailer.
func parseCreator(g *Goroutine) {
	own := g.own()
	i := strings.LastIndex(own, "\ncreated by ")
	if i < 0 {
		return
	}
	l, next, _ := strings.Cut(own[i+len("\ncreated by "):], "\n")
	if j := strings.LastIndex(l, " in goroutine "); j >= 0 {
		g.CreatorID, _ = strconv.ParseUint(l[j+len(" in goroutine "):], 10, 64)
		l = l[:j]
	}
	g.CreatedBy = Frame{Func: l}
	g.CreatedBy.File, g.CreatedBy.Line = fileLine(next)
}

// ParseFrames reads the frames from Raw, once.
func (g *Goroutine) ParseFrames() {
	if g.parsed {
		return
	}
	g.parsed = true
	own := g.own()
	g.Elided = strings.Contains(own, "frames elided")
	for fn, file, rest := nextFrame(frameLines(own)); fn != ""; fn, file, rest = nextFrame(rest) {
		f := Frame{Func: funcName(fn)}
		if file != "" {
			f.File, f.Line = fileLine(file)
		}
		g.Frames = append(g.Frames, f)
	}
}

// funcName strips the argument list from "pkg.(*T).m(0x1, {0x2, 0x3})".
func funcName(l string) string {
	if strings.HasSuffix(l, ")") {
		if j := strings.LastIndexByte(l, '('); j > 0 {
			return l[:j]
		}
	}
	return l
}

// fileLine reads "\t/path/file.go:12 +0x1d".
func fileLine(l string) (string, int) {
	l = strings.TrimSpace(l)
	if j := strings.LastIndex(l, " +0x"); j >= 0 {
		l = l[:j]
	}
	j := strings.LastIndexByte(l, ':')
	if j < 0 {
		return l, 0
	}
	n, err := strconv.Atoi(l[j+1:])
	if err != nil {
		return l, 0
	}
	return l[:j], n
}

// Group is one record of the goroutine profile at debug=1: Count goroutines
// with the same stack and the same labels.
type Group struct {
	Count  int
	Labels string // the profile's "{"k":"v", …}" text, "" when unlabelled
	Frames []Frame
}

// Key identifies the group's stack; see Goroutine.Key.
func (g *Group) Key() string { return key(g.Frames) }

// HasLabel reports whether the group carries the pprof label key.
func (g *Group) HasLabel(k string) bool {
	return strings.Contains(g.Labels, strconv.Quote(k)+":")
}

// ParseProfile parses the goroutine profile written at debug=1.
func ParseProfile(p []byte) []Group {
	var out []Group
	var cur *Group
	for _, l := range strings.Split(string(p), "\n") {
		switch {
		case l == "":
			cur = nil
		case strings.HasPrefix(l, "# labels: "):
			if cur != nil {
				cur.Labels = strings.TrimPrefix(l, "# labels: ")
			}
		case strings.HasPrefix(l, "#\t"):
			if cur == nil {
				continue
			}
			// "#\t0x4dc518\tmain.main.func1.1+0x18\t/tmp/main.go:15"
			parts := strings.Split(l, "\t")
			if len(parts) < 4 {
				continue
			}
			fn := strings.TrimSpace(parts[2])
			if j := strings.LastIndex(fn, "+0x"); j >= 0 {
				fn = fn[:j]
			}
			f := Frame{Func: fn}
			f.File, f.Line = fileLine(parts[len(parts)-1])
			cur.Frames = append(cur.Frames, f)
		default:
			at := strings.Index(l, " @ ")
			if at < 0 {
				continue
			}
			n, err := strconv.Atoi(l[:at])
			if err != nil {
				continue
			}
			out = append(out, Group{Count: n})
			cur = &out[len(out)-1]
		}
	}
	return out
}

// keyDepth bounds how many frames take part in a key, so that the dump's and
// the profile's different depth limits do not matter.
const keyDepth = 24

// IsRuntime reports whether a function belongs to the runtime itself, whose
// frames the two text forms show differently.
func IsRuntime(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime/")
}

func key(frames []Frame) string {
	var b strings.Builder
	n := 0
	for _, f := range frames {
		if IsRuntime(f.Func) {
			continue
		}
		if n == keyDepth {
			break
		}
		b.WriteString(f.Func)
		b.WriteByte(' ')
		b.WriteString(f.Location())
		b.WriteByte('\n')
		n++
	}
	return b.String()
}

// CurrentID returns the ID of the calling goroutine.
func CurrentID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// ParseLabels returns the label pairs of a profile's "{"k":"v", …}" text as
// alternating keys and values, ready for pprof.Labels; nil when the text is
// not in that form.
func ParseLabels(s string) []string {
	s, ok := strings.CutPrefix(strings.TrimSpace(s), "{")
	if s, ok = strings.CutSuffix(s, "}"); !ok {
		return nil
	}
	var out []string
	for i := 0; s != ""; i++ {
		q, err := strconv.QuotedPrefix(s)
		if err != nil {
			return nil
		}
		v, _ := strconv.Unquote(q)
		out = append(out, v)
		s = s[len(q):]
		sep := ":"
		if i%2 == 1 {
			sep = ", "
		}
		if s != "" {
			if s, ok = strings.CutPrefix(s, sep); !ok {
				return nil
			}
		}
	}
	if len(out)%2 != 0 {
		return nil
	}
	return out
}

// Dump returns runtime.Stack's dump of every goroutine, written into a
// buffer kept for the next dump, valid until release is called. A fresh
// buffer per look, several looks per check, was garbage enough to add GC
// cycles to a module's audit.
func Dump() (dump []byte, release func()) {
	bp := dumpBuffers.Get().(*[]byte)
	b := FullDump(*bp)
	return b, func() {
		if cap(b) <= maxKeptDump {
			*bp = b
			dumpBuffers.Put(bp)
		}
	}
}

// DumpText is Dump as a string of its own.
func DumpText() string {
	dump, release := Dump()
	defer release()
	return string(dump)
}

var dumpBuffers = sync.Pool{New: func() any { return new([]byte) }}

// maxKeptDump is the largest dump buffer kept for the next.
const maxKeptDump = 16 << 20

// dumpStart is the least buffer FullDump writes a dump into.
const dumpStart = 64 << 10

// FullDump returns runtime.Stack's dump of every goroutine, written into
// buf when it fits in buf's capacity (dumpStart at the least), else into a
// larger buffer.
func FullDump(buf []byte) []byte {
	buf = buf[:cap(buf)]
	if len(buf) < dumpStart {
		buf = make([]byte, dumpStart)
	}
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return buf[:n]
		}
		buf = make([]byte, 2*len(buf))
	}
}

// OwnCode trims the outer end of frames, a stack from the innermost frame
// out to the block (cut at a run's marker), to the block's own code. A block
// that residue or a test framework hands to a run on the user's behalf —
// CheckEverySpec's wrapper around a Ginkgo node, the audit hook around a
// test, VerifyTestMain around m.Run — has their frames outermost, and they
// name no line of the user's: the outermost frame left is the user's
// function that the wrapper called. A stack with nothing else is kept whole.
func OwnCode(frames []Frame) []Frame {
	end := len(frames)
	for end > 0 && harness(frames[end-1]) {
		end--
	}
	if end == 0 {
		return frames
	}
	return frames[:end]
}

// harness reports whether a frame runs blocks given to it rather than being
// one: the runtime's, testing's, Ginkgo's and residue's own (not its tests'
// or examples'). Residue's are known by their file as well as their name: a
// closure of residue's inlined into the user's code (CheckEverySpec's node
// wrapper, made where the user decorates a container) is named after the
// user's function.
func harness(f Frame) bool {
	if IsRuntime(f.Func) {
		return true
	}
	switch pkg := Package(f.Func); pkg {
	case Module, Module + "/suite", Module + "/matchers", Module + "/audit",
		Module + "/audit/ginkgoaudit", "github.com/onsi/ginkgo/v2", "github.com/onsi/ginkgo/v2/internal", "testing":
		return true
	default:
		if strings.HasPrefix(pkg, Module+"/internal/") {
			return true
		}
	}
	rel, ok := strings.CutPrefix(f.File, ownRoot)
	if !ok || ownRoot == "" || strings.HasSuffix(rel, "_test.go") {
		return false
	}
	switch dir := path.Dir(rel); dir {
	case ".", "suite", "matchers", "audit", "audit/ginkgoaudit":
		return true
	default:
		return strings.HasPrefix(dir, "internal/")
	}
}

// Module prefixes the names of residue's own functions.
const Module = "github.com/residue-go/residue"

// ownRoot is the directory of residue's source as the binary's file names
// give it ("/src/residue/" in a plain build, "github.com/residue-go/residue/"
// under -trimpath), found from this file's own path, three levels down.
var ownRoot = func() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	return path.Dir(path.Dir(path.Dir(file))) + "/"
}()
