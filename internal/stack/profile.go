package stack

import (
	"bytes"
	"context"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unsafe" // and go:linkname
)

// Groups returns the goroutine profile as ParseProfile reads it from the
// debug=1 text: one Group per stack and label set; with key set, only the
// groups whose labels hold key. Where this release's records are known
// (profile_direct.go) they are read as the runtime keeps them, and only
// the stacks of the groups returned are symbolized: the text form formats
// every goroutine's stack, and what it allocates is recorded with its
// stack while another check's block runs.
func Groups(key string) []Group {
	if !readsDirectly() {
		return textGroups(key)
	}
	return directGroups(key)
}

// textGroups is Groups through the profile's text form.
func textGroups(key string) []Group {
	var buf bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
	all := ParseProfile(buf.Bytes())
	if key == "" {
		return all
	}
	return slices.DeleteFunc(all, func(g Group) bool { return !g.HasLabel(key) })
}

// directGroups is Groups through the runtime's records, grouped and
// ordered as runtime/pprof groups and orders them for the text form.
func directGroups(key string) []Group {
	stacks, labels := profileRecords()
	type group struct {
		key    string
		stk    []uintptr
		labels string
		count  int
	}
	var groups []*group
	byKey := map[string]*group{}
	var b strings.Builder
	for i, stk := range stacks {
		pairs, labelled := labelPairs(labels[i])
		if key != "" && !hasKey(pairs, key) {
			continue
		}
		// The text form's key: the return addresses, then the labels.
		b.Reset()
		b.WriteString("@")
		for _, pc := range stk {
			b.WriteString(" 0x")
			b.WriteString(strconv.FormatUint(uint64(pc), 16))
		}
		text := ""
		if labelled {
			text = labelText(pairs)
			b.WriteString("\n# labels: ")
			b.WriteString(text)
		}
		if g := byKey[b.String()]; g != nil {
			g.count++
			continue
		}
		g := &group{key: b.String(), stk: stk, labels: text, count: 1}
		byKey[g.key] = g
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b *group) int {
		if a.count != b.count {
			return b.count - a.count
		}
		return strings.Compare(a.key, b.key)
	})
	out := make([]Group, len(groups))
	for i, g := range groups {
		out[i] = Group{Count: g.count, Labels: g.labels, Frames: profileFrames(g.stk, false)}
	}
	return out
}

// hasKey reports whether key-value pairs hold key.
func hasKey(pairs []string, key string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i] == key {
			return true
		}
	}
	return false
}

// labelText is a label set as the debug=1 profile prints it: the pairs
// quoted, sorted, in braces.
func labelText(pairs []string) string {
	kv := make([]string, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		kv = append(kv, strconv.Quote(pairs[i])+":"+strconv.Quote(pairs[i+1]))
	}
	slices.Sort(kv)
	return "{" + strings.Join(kv, ", ") + "}"
}

// profileFrames are the frames the debug=1 profile prints for a stack of
// return addresses, as ParseProfile reads them: the runtime's own frames
// at the top and runtime.goexit left out, unless nothing else is left;
// frames without a function are not read.
func profileFrames(stk []uintptr, all bool) []Frame {
	var out []Frame
	show := all
	frames := runtime.CallersFrames(stk)
	for {
		f, more := frames.Next()
		switch name := f.Function; {
		case name == "":
			show = true
		case name != "runtime.goexit" && (show || !IsRuntime(name)):
			show = true
			out = append(out, Frame{Func: name, File: f.File, Line: f.Line})
		}
		if !more {
			break
		}
	}
	if !show {
		return profileFrames(stk, true)
	}
	return out
}

// labelPairs returns the key-value pairs of a goroutine's label set as
// runtime/pprof stores it (the pointer the runtime keeps per goroutine),
// and whether there is one: only where labelsMirrored found the layout as
// mirrored here.
func labelPairs(p unsafe.Pointer) ([]string, bool) {
	s := (*labelSet)(p)
	if s == nil {
		return nil, false
	}
	out := make([]string, 0, 2*len(s.list))
	for _, l := range s.list {
		out = append(out, l.key, l.value)
	}
	return out, true
}

// labelSet mirrors runtime/pprof's label map: a list of key-value pairs.
type labelSet struct {
	list []struct{ key, value string }
}

// readsDirectly reports whether the runtime's goroutine records read as
// this package expects (and its label sets, labelsMirrored): checked once,
// on the calling goroutine, given known labels for the time of one read
// and a known function on its stack. The check starts no goroutine, which
// the goroutine probe of the check that read first would see as new.
var readsDirectly = sync.OnceValue(func() bool {
	return profileKnown && labelsMirrored() && withKnownLabels(profileCheckpoint)
})

// labelsMirrored reports whether labelPairs reads a label set as
// pprof.SetGoroutineLabels made it: checked once, on the calling goroutine.
var labelsMirrored = sync.OnceValue(func() bool { return withKnownLabels(knownLabelsRead) })

// knownLabelsRead reports whether labelPairs reads withKnownLabels' labels.
func knownLabelsRead() bool {
	got, _ := labelPairs(getProfLabel())
	return slices.Equal(got, []string{"residue-a", "1", "residue-b", "2"})
}

// withKnownLabels runs check with the calling goroutine's labels set to
// residue-a=1, residue-b=2, and puts its own back after.
func withKnownLabels(check func() bool) bool {
	defer setProfLabel(getProfLabel())
	pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("residue-b", "2", "residue-a", "1")))
	return check()
}

// profileCheckpoint finds the calling goroutine in a direct read, by its
// labels and this function on its stack.
//
//go:noinline
func profileCheckpoint() bool {
	for _, g := range directGroups("residue-a") {
		if g.Count == 1 && g.Labels == `{"residue-a":"1", "residue-b":"2"}` &&
			slices.ContainsFunc(g.Frames, func(f Frame) bool { return f.Func == profileCheckpointFunc && f.Line > 0 }) {
			return true
		}
	}
	return false
}

const profileCheckpointFunc = "github.com/residue-go/residue/internal/stack.profileCheckpoint"

// CurrentLabels returns the calling goroutine's label pairs, read as the
// runtime keeps them; ok is false where their layout is not the one
// mirrored here (the goroutine profile's text form then tells them).
func CurrentLabels() (pairs []string, ok bool) {
	if !labelsMirrored() {
		return nil, false
	}
	pairs, _ = labelPairs(getProfLabel())
	return pairs, true
}

// getProfLabel and setProfLabel get and set the calling goroutine's label
// set, as runtime/pprof stores it. The runtime keeps these entry points for
// packages outside the standard library.
//
//go:linkname getProfLabel runtime/pprof.runtime_getProfLabel
func getProfLabel() unsafe.Pointer

//go:linkname setProfLabel runtime/pprof.runtime_setProfLabel
func setProfLabel(unsafe.Pointer)
