package globals

import (
	"slices"
	"strconv"
	"strings"
)

// ChangeKind says how a value changed.
type ChangeKind uint8

const (
	// Modified: the value at Path went from Before to After.
	Modified ChangeKind = iota
	// Added: the map, slice or environment at Path gained Key, holding After.
	Added
	// Removed: the map, slice or environment at Path lost Key, which held
	// Before.
	Removed
)

// Change is one difference between two snapshots.
type Change struct {
	// Variable is the fully qualified name of the variable that changed, or
	// "environment", "working directory" or "os.Args".
	Variable string
	// Path locates the change inside the variable, starting with its name:
	// "example.com/app.Config.Timeout", `mime.mimeTypes`.
	Path string
	Kind ChangeKind
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
	case Added:
		return c.Path + ": added " + c.Key + sep(c.Key) + c.After
	case Removed:
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

// differ compares two captured graphs.
type differ struct {
	variable string
	out      []Change
}

func (d *differ) add(c Change) {
	c.Variable = d.variable
	d.out = append(d.out, c)
}

func same(a, b *node) bool {
	return a.kind == b.kind && a.hash == b.hash && a.text == b.text && len(a.kids) == len(b.kids)
}

func (d *differ) diff(path string, a, b *node) {
	if same(a, b) {
		return
	}
	if a.kind != b.kind {
		d.add(Change{Path: path, Before: render(a), After: render(b)})
		return
	}
	switch a.kind {
	case onceNode:
		// A sync.Once firing is lazy initialisation by definition.
	case structNode:
		fired := false
		for i, k := range a.kids {
			if k.kind == onceNode && k.zero && !b.kids[i].zero {
				fired = true
			}
		}
		for i, name := range a.names {
			if fired {
				continue // the work of the sync.Once beside it
			}
			d.diff(path+"."+name, a.kids[i], b.kids[i])
		}
	case ptrNode:
		if a.ref || b.ref {
			// Met first elsewhere on the graph, where any change to what it
			// points to is reported.
			if a.addr != b.addr {
				d.add(Change{Path: path, Before: render(a), After: render(b)})
			}
			return
		}
		if len(a.kids) == 0 || len(b.kids) == 0 {
			d.add(Change{Path: path, Before: render(a), After: render(b)})
			return
		}
		d.diff(path, a.kids[0], b.kids[0])
	case ifaceNode:
		if a.text != b.text || len(a.kids) == 0 || len(b.kids) == 0 {
			d.add(Change{Path: path, Before: render(a), After: render(b)})
			return
		}
		d.diff(path, a.kids[0], b.kids[0])
	case seqNode:
		n := min(len(a.kids), len(b.kids))
		for i := 0; i < n; i++ {
			d.diff(path+"["+strconv.Itoa(i)+"]", a.kids[i], b.kids[i])
		}
		for i := n; i < len(b.kids); i++ {
			d.add(Change{Path: path, Kind: Added, Key: "[" + strconv.Itoa(i) + "]", After: render(b.kids[i])})
		}
		for i := n; i < len(a.kids); i++ {
			d.add(Change{Path: path, Kind: Removed, Key: "[" + strconv.Itoa(i) + "]", Before: render(a.kids[i])})
		}
		if len(a.kids) == 0 && len(b.kids) == 0 {
			d.add(Change{Path: path, Before: render(a), After: render(b)})
		}
	case mapNode:
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
		for _, j := range added {
			d.add(Change{Path: path, Kind: Added, Key: b.keyText(j), After: render(b.kids[j])})
		}
		for _, i := range removed {
			d.add(Change{Path: path, Kind: Removed, Key: a.keyText(i), Before: render(a.kids[i])})
		}
		for _, ij := range changed {
			d.diff(path+"["+b.keyText(ij[1])+"]", a.kids[ij[0]], b.kids[ij[1]])
		}
	default:
		d.add(Change{Path: path, Before: render(a), After: render(b)})
	}
}

// render writes a node compactly, at most about 80 characters.
func render(n *node) string {
	var b strings.Builder
	renderTo(&b, n, 80)
	if b.Len() > 80 {
		s := b.String()
		cut := 77
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		return s[:cut] + "…"
	}
	return b.String()
}

func renderTo(b *strings.Builder, n *node, budget int) {
	if b.Len() > budget {
		return
	}
	switch n.kind {
	case leafNode, onceNode:
		if n.text == "" {
			b.WriteString("(not read)")
		}
		b.WriteString(n.text)
	case ptrNode:
		if n.ref {
			b.WriteString("(" + n.text + " 0x" + strconv.FormatUint(uint64(n.addr), 16) + ", shown elsewhere)")
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
