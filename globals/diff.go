package globals

import (
	"slices"
	"strconv"
	"strings"
)

// How a value changed (Change.Kind).
const (
	kindModified = "modified"
	kindAdded    = "added"
	kindRemoved  = "removed"
)

// Change is one difference between two snapshots.
type Change struct {
	// Variable is the fully qualified name of the variable that changed, or
	// "environment", "working directory" or "os.Args".
	Variable string
	// Path locates the change inside the variable, starting with its name:
	// "example.com/app.Config.Timeout", `mime.mimeTypes`.
	Path string
	// Kind says how the value changed: "modified" (the value at Path went
	// from Before to After), "added" (the map, slice or environment at Path
	// gained Key, holding After) or "removed" (it lost Key, which held
	// Before).
	Kind string
	// Key is the map key or "[index]" added or removed.
	Key string
	// Before and After are short renderings of the values.
	Before, After string
}

// String renders the change on one line:
//
//	example.com/app.Config.Timeout: 5s → 10s
//	mime.mimeTypes: added ".foo": "text/foo"
func (c Change) String() string {
	switch c.Kind {
	case kindAdded:
		return c.Path + ": added " + c.Key + sep(c.Key) + c.After
	case kindRemoved:
		return c.Path + ": removed " + c.Key + sep(c.Key) + c.Before
	}
	return c.Path + ": " + c.Before + " → " + c.After
}

func sep(key string) string {
	if strings.HasPrefix(key, "$") {
		return "="
	}
	return ": "
}

// maxChangesPerVariable caps the changes a report lists for one variable;
// the rest are counted (Report.Omitted), so that a variable rebuilt in full
// (a long linked list reordered) costs time and memory in proportion to
// its size, not to its size squared.
const maxChangesPerVariable = 100

// differ compares two captured graphs of one variable.
type differ struct {
	variable  string
	ignores   []string // exact paths under the variable that Ignoring names
	out       []Change
	omitted   int
	notJudged []string
	// onceFired: a package-level sync.Once of the variable's package fired
	// during the block (see filledByOnce).
	onceFired bool
}

// add records a change at p; what changed (before, after: nil for an
// entry added or removed) is rendered only for the changes listed.
func (d *differ) add(p *path, kind string, key string, before, after *node) {
	if len(d.out) >= maxChangesPerVariable {
		d.omitted++
		return
	}
	c := Change{Variable: d.variable, Path: p.String(), Kind: kind, Key: key}
	if before != nil {
		c.Before = render(before)
	}
	if after != nil {
		c.After = render(after)
	}
	d.out = append(d.out, c)
}

// ignored reports whether Ignoring names path p exactly: paths are
// compared step by step, so a key holding "." or "]" is no ambiguity.
func (d *differ) ignored(p *path) bool {
	for _, ig := range d.ignores {
		if p.exactLen == len(ig) && p.exactString() == ig {
			return true
		}
	}
	return false
}

// same reports whether two nodes hold the same state; what could not be
// judged is never the same.
func same(a, b *node) bool {
	return a.kind != unjudgedNode && a.kind == b.kind && a.hash == b.hash && a.text == b.text && len(a.kids) == len(b.kids)
}

func (d *differ) diff(p *path, a, b *node) {
	if same(a, b) || d.ignored(p) {
		return
	}
	if a.kind == unjudgedNode || b.kind == unjudgedNode {
		why := a.text
		if b.kind == unjudgedNode {
			why = b.text
		}
		if len(d.notJudged) < maxChangesPerVariable {
			d.notJudged = append(d.notJudged, p.String()+" ("+why+")")
		}
		return
	}
	if a.lazy && a.zero {
		return // set on first use: a variable rule says so
	}
	if filledByOnce(d.onceFired, a) {
		return
	}
	if a.kind != b.kind {
		d.add(p, kindModified, "", a, b)
		return
	}
	switch a.kind {
	case onceNode:
		// A sync.Once firing is lazy initialisation by definition.
	case structNode:
		for i := range a.kids {
			if onceFired(a.kids[i], b.kids[i]) {
				return // the other fields' changes are the work of the Once beside them
			}
		}
		for i, name := range a.names {
			if !same(a.kids[i], b.kids[i]) {
				d.diff(p.field(name), a.kids[i], b.kids[i])
			}
		}
	case ptrNode:
		if a.ref || b.ref {
			// Met first elsewhere on the graph, where any change to what it
			// points to is reported.
			if a.addr != b.addr {
				d.add(p, kindModified, "", a, b)
			}
			return
		}
		if len(a.kids) == 0 || len(b.kids) == 0 {
			d.add(p, kindModified, "", a, b)
			return
		}
		d.diff(p, a.kids[0], b.kids[0])
	case ifaceNode:
		if a.text != b.text || len(a.kids) == 0 || len(b.kids) == 0 {
			d.add(p, kindModified, "", a, b)
			return
		}
		d.diff(p, a.kids[0], b.kids[0])
	case seqNode:
		n := min(len(a.kids), len(b.kids))
		for i := 0; i < n; i++ {
			if !same(a.kids[i], b.kids[i]) {
				d.diff(p.index(i), a.kids[i], b.kids[i])
			}
		}
		for i := n; i < len(b.kids); i++ {
			if !d.ignored(p.index(i)) {
				d.add(p, kindAdded, "["+strconv.Itoa(i)+"]", nil, b.kids[i])
			}
		}
		for i := n; i < len(a.kids); i++ {
			if !d.ignored(p.index(i)) {
				d.add(p, kindRemoved, "["+strconv.Itoa(i)+"]", a.kids[i], nil)
			}
		}
		if len(a.kids) == 0 && len(b.kids) == 0 {
			d.add(p, kindModified, "", a, b)
		}
	case mapNode:
		d.diffMap(p, a, b)
	default:
		d.add(p, kindModified, "", a, b)
	}
}

// diffMap compares two maps by their exact keys.
func (d *differ) diffMap(p *path, a, b *node) {
	at := make(map[string]int, len(a.names))
	for i, k := range a.names {
		at[k] = i
	}
	var added, removed []int
	var changed [][2]int // indexes in a and b
	for j, k := range b.names {
		if i, ok := at[k]; ok {
			if !same(a.kids[i], b.kids[j]) {
				changed = append(changed, [2]int{i, j})
			}
			delete(at, k)
		} else {
			added = append(added, j)
		}
	}
	for _, i := range at {
		removed = append(removed, i)
	}
	byKey := func(n *node) func(x, y int) int {
		return func(x, y int) int { return strings.Compare(n.names[x], n.names[y]) }
	}
	slices.SortFunc(added, byKey(b))
	slices.SortFunc(removed, byKey(a))
	slices.SortFunc(changed, func(x, y [2]int) int { return strings.Compare(b.names[x[1]], b.names[y[1]]) })
	key := func(n *node, i int) *path { return p.key(n.keyText(i), n.exactKeyText(i)) }
	for _, j := range added {
		if !d.ignored(key(b, j)) {
			d.add(p, kindAdded, b.keyText(j), nil, b.kids[j])
		}
	}
	for _, i := range removed {
		if !d.ignored(key(a, i)) {
			d.add(p, kindRemoved, a.keyText(i), a.kids[i], nil)
		}
	}
	for _, ij := range changed {
		d.diff(key(b, ij[1]), a.kids[ij[0]], b.kids[ij[1]])
	}
}

// render writes a node compactly, at most about 80 characters.
func render(n *node) string {
	var b strings.Builder
	renderTo(&b, n, 80)
	return shorten(b.String())
}

func renderTo(b *strings.Builder, n *node, budget int) {
	if b.Len() > budget {
		return
	}
	switch n.kind {
	case leafNode, onceNode, unjudgedNode:
		switch {
		case n.str:
			b.WriteString(quote(n.text))
		case n.text == "":
			b.WriteString("(not read)")
		default:
			b.WriteString(n.text)
		}
	case ptrNode:
		if n.ref {
			b.WriteString("(" + n.text + " 0x" + hex(uint64(n.addr)) + ", shown elsewhere)")
			return
		}
		if len(n.kids) == 0 {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		renderTo(b, n.kids[0], budget)
	case ifaceNode:
		if len(n.kids) == 0 {
			b.WriteString("nil")
			return
		}
		k := n.kids[0]
		if !strings.Contains(n.text, ".") {
			renderTo(b, k, budget) // a builtin type: the value says it
			return
		}
		if k.kind == ptrNode && len(k.kids) > 0 {
			if k.kids[0].kind == leafNode { // a value that names its type
				renderTo(b, k, budget)
				return
			}
			b.WriteString("&" + strings.TrimPrefix(n.text, "*"))
			renderTo(b, k.kids[0], budget)
			return
		}
		b.WriteString(n.text)
		if k.kind == leafNode {
			b.WriteString("(")
			renderTo(b, k, budget)
			b.WriteString(")")
			return
		}
		renderTo(b, k, budget)
	case structNode:
		b.WriteString("{")
		first := true
		for i, name := range n.names {
			if n.kids[i].zero {
				continue
			}
			if !first {
				b.WriteString(", ")
			}
			first = false
			b.WriteString(name)
			b.WriteString(": ")
			renderTo(b, n.kids[i], budget)
			if b.Len() > budget {
				return
			}
		}
		b.WriteString("}")
	case seqNode:
		if n.zero && len(n.kids) == 0 {
			b.WriteString("nil")
			return
		}
		b.WriteString("[")
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(", ")
			}
			renderTo(b, k, budget)
			if b.Len() > budget {
				return
			}
		}
		b.WriteString("]")
	case mapNode:
		if n.zero && n.hash == hashString("nil map") {
			b.WriteString("nil")
			return
		}
		b.WriteString("{")
		for i := range n.names {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n.keyText(i))
			b.WriteString(": ")
			renderTo(b, n.kids[i], budget)
			if b.Len() > budget {
				return
			}
		}
		b.WriteString("}")
	}
}
