package globals

import (
	"strconv"
	"strings"
)

// path locates a value inside a variable as a chain of steps (go-cmp's
// idea): each step points to its parent, so descending one level costs
// one small allocation whatever the depth, and a path is rendered as text
// only when a change at it is reported. Dereferencing a pointer and
// unwrapping an interface are not steps: they do not show in a path.
type path struct {
	parent *path
	kind   stepKind
	name   string // root: the variable; field: its name; key: the key as shown
	exact  string // key: the key in full, as Ignoring names it
	pos    int    // index: the position
	// exactLen is the length of the exact rendering from the root, so that
	// Ignoring compares texts only where the lengths agree.
	exactLen int
}

type stepKind uint8

const (
	rootStep stepKind = iota
	fieldStep
	indexStep
	keyStep
)

func rootPath(variable string) *path {
	return &path{kind: rootStep, name: variable, exactLen: len(variable)}
}

func (p *path) field(name string) *path {
	return &path{parent: p, kind: fieldStep, name: name, exactLen: p.exactLen + 1 + len(name)}
}

func (p *path) index(i int) *path {
	return &path{parent: p, kind: indexStep, pos: i, exactLen: p.exactLen + 2 + len(strconv.Itoa(i))}
}

func (p *path) key(shown, exact string) *path {
	return &path{parent: p, kind: keyStep, name: shown, exact: exact, exactLen: p.exactLen + 2 + len(exact)}
}

func (p *path) steps() []*path {
	n := 0
	for q := p; q != nil; q = q.parent {
		n++
	}
	out := make([]*path, n)
	for q := p; q != nil; q = q.parent {
		n--
		out[n] = q
	}
	return out
}

func (p *path) text(exact bool) string {
	switch p.kind {
	case rootStep:
		return p.name
	case fieldStep:
		return "." + p.name
	case indexStep:
		return "[" + strconv.Itoa(p.pos) + "]"
	}
	if exact {
		return "[" + p.exact + "]"
	}
	return "[" + p.name + "]"
}

// exactString renders the path with keys in full, the form Ignoring
// matches.
func (p *path) exactString() string {
	var b strings.Builder
	b.Grow(p.exactLen)
	for _, s := range p.steps() {
		b.WriteString(s.text(true))
	}
	return b.String()
}

// maxPathText caps a rendered path; the middle of a longer one is elided.
const maxPathText = 240

// String renders the path as a report shows it: a run of four or more
// identical steps (a linked list's .next.next...) is written once with its
// count, and a path still longer than maxPathText loses its middle.
func (p *path) String() string {
	steps := p.steps()
	var b strings.Builder
	for i := 0; i < len(steps); {
		j := i + 1
		for j < len(steps) && sameStep(steps[i], steps[j]) {
			j++
		}
		t := steps[i].text(false)
		if j-i >= 4 {
			b.WriteString("(" + t + ")×" + strconv.Itoa(j-i))
		} else {
			for k := i; k < j; k++ {
				b.WriteString(t)
			}
		}
		i = j
	}
	s := b.String()
	if len(s) > maxPathText {
		head, tail := cutUTF8(s, maxPathText/2), s[len(s)-maxPathText/2:]
		for len(tail) > 0 && tail[0]&0xC0 == 0x80 {
			tail = tail[1:]
		}
		s = head + "…" + tail
	}
	return s
}

func sameStep(a, b *path) bool {
	return a.kind != rootStep && a.kind == b.kind && a.name == b.name && a.pos == b.pos
}

// cutUTF8 returns at most n bytes of s, not splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// shorten cuts a rendering longer than 80 bytes.
func shorten(s string) string {
	if len(s) <= 80 {
		return s
	}
	return cutUTF8(s, 77) + "…"
}
