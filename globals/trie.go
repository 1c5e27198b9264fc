package globals

import (
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A sync.Map is a hash-trie (internal/sync.HashTrieMap): indirect nodes of
// child slots, each slot nil, an entry or another indirect node. An entry
// holds one key and one value and is never changed in place, but for its
// overflow link, which only entries of a chain of colliding hashes have: a
// store, a swap or a delete puts a new entry or nil in a slot, or a new
// indirect node where a slot's entry had to make room. So a map whose
// slots, indirect node by indirect node, hold the very same pointers as at
// a memo's walk (kept alive by the memo, so that no other node took one's
// address), and none of whose entries had an overflow link then, holds the
// very same entries. Comparing the slots touches only the indirect nodes
// (a few hundred for mime's tables of 1,400 entries), not the entries,
// whose memory is cold between two snapshots: a walk of all of them was
// about 0.2 ms per table in echo's tests, ten times a walk in a warm cache.
//
// The layout is read through reflection where the types say it (the
// map's root, an indirect node's slots) and checked once on a map made for
// it where they do not (an entry's key, value and overflow link): a
// release that lays them out otherwise falls back to walking the entries.

// trieLayout locates the parts of a sync.Map's hash-trie.
type trieLayout struct {
	ok       bool
	root     uintptr // of the root pointer, in a sync.Map
	children uintptr // of the first slot, in an indirect node
	slots    int     // slots per indirect node
}

// Offsets in an entry, checked by checkTrie.
const (
	trieEntryOverflow = 8
	trieEntryKey      = 16
	trieEntryValue    = 32
)

var trie = sync.OnceValue(func() trieLayout {
	l, ok := readTrieLayout()
	l.ok = ok && checkTrie(l)
	return l
})

// readTrieLayout reads the offsets the types give.
func readTrieLayout() (l trieLayout, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	m, found := reflect.TypeOf(sync.Map{}).FieldByName("m")
	if !found {
		return l, false
	}
	root, found := m.Type.FieldByName("root")
	if !found || root.Type.Kind() != reflect.Struct || root.Type.NumField() == 0 {
		return l, false
	}
	// atomic.Pointer[T] starts with a [0]*T field.
	indirect := root.Type.Field(0).Type.Elem().Elem()
	children, found := indirect.FieldByName("children")
	if !found || children.Type.Kind() != reflect.Array || children.Type.Elem().Size() != unsafe.Sizeof(uintptr(0)) {
		return l, false
	}
	if node := indirect.Field(0); node.Offset != 0 || node.Type.Size() == 0 || node.Type.Field(0).Type.Kind() != reflect.Bool {
		return l, false
	}
	return trieLayout{root: m.Offset + root.Offset, children: children.Offset, slots: children.Type.Len()}, true
}

// checkTrie reads the slots of a map made for it and checks that its
// entries hold, at the offsets assumed, the keys and values it stored.
func checkTrie(l trieLayout) bool {
	var m sync.Map
	want := map[string]string{}
	for i := range 300 {
		k, v := "k"+strconv.Itoa(i), "v"+strconv.Itoa(i)
		m.Store(k, v)
		want[k] = v
	}
	slots, inner, ok := slotsOf(l, &m)
	if !ok {
		return false
	}
	found := 0
	for i, e := range slots[1:] {
		if e == nil || inner[i+1] {
			continue
		}
		k, kok := (*(*any)(unsafe.Add(e, trieEntryKey))).(string)
		v, vok := (*(*any)(unsafe.Add(e, trieEntryValue))).(string)
		if !kok || !vok || want[k] != v {
			return false
		}
		found++
	}
	return found == len(want)
}

// child loads slot i of the indirect node n.
func (l trieLayout) child(n unsafe.Pointer, i int) unsafe.Pointer {
	return atomic.LoadPointer((*unsafe.Pointer)(unsafe.Add(n, l.children+uintptr(i)*unsafe.Sizeof(uintptr(0)))))
}

// trieSlots records m's slots for a memo: the root, then every slot of
// every indirect node, depth first, and which of them held an indirect
// node; ok is false when the layout is not known or an entry had an
// overflow link.
func trieSlots(m *sync.Map) (slots []unsafe.Pointer, inner []bool, ok bool) {
	l := trie()
	if !l.ok {
		return nil, nil, false
	}
	return slotsOf(l, m)
}

// slotsOf is trieSlots by layout l.
func slotsOf(l trieLayout, m *sync.Map) (slots []unsafe.Pointer, inner []bool, ok bool) {
	root := loadPtr(unsafe.Add(unsafe.Pointer(m), l.root))
	if root == nil {
		return nil, nil, false
	}
	ok = true
	slots, inner = append(slots, root), append(inner, true)
	var walk func(n unsafe.Pointer)
	walk = func(n unsafe.Pointer) {
		for i := range l.slots {
			c := l.child(n, i)
			isInner := c != nil && !*(*bool)(c)
			if c != nil && !isInner && loadPtr(unsafe.Add(c, trieEntryOverflow)) != nil {
				ok = false
			}
			slots, inner = append(slots, c), append(inner, isInner)
			if isInner {
				walk(c)
			}
		}
	}
	walk(root)
	return slots, inner, ok
}

// sameSlots reports whether m's slots are still those recorded, without
// touching an entry: whether a slot holds an indirect node is read from
// inner, not from the node, whose first word is an entry's too: a walk
// that read it, shared with slotsOf, touched every entry, and
// BenchmarkSnapshotDiffDefaultScope took 509–510 µs instead of 415–421.
func sameSlots(m *sync.Map, slots []unsafe.Pointer, inner []bool) bool {
	l := trie()
	root := loadPtr(unsafe.Add(unsafe.Pointer(m), l.root))
	if len(slots) == 0 || root != slots[0] {
		return false
	}
	k := 1
	var walk func(n unsafe.Pointer) bool
	walk = func(n unsafe.Pointer) bool {
		for i := range l.slots {
			c := l.child(n, i)
			if k >= len(slots) || c != slots[k] {
				return false
			}
			descend := inner[k]
			k++
			if descend && !walk(c) {
				return false
			}
		}
		return true
	}
	return walk(root) && k == len(slots)
}
