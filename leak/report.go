package leak

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/internal/text"
)

// Caps on what a report shows; the counts it gives are always exact.
const (
	maxGroups   = 20 // groups of identical goroutines shown
	maxIDs      = 10 // IDs listed per group
	maxFrames   = 10 // frames shown per goroutine
	maxRawLines = 40 // lines of the runtime's own text, for stacks the parser cannot read
	maxCreation = 8  // creations shown per goroutine
	maxFrom     = 4  // ways from the block shown per creation
	maxWayCalls = 3  // calls shown per way, from the block's line on
)

// group is the goroutines a report shows as one: same state, stack and
// origin.
type group struct {
	gs []Goroutine
}

func (r *Report) groups() []*group {
	var order []*group
	index := map[string]*group{}
	for _, g := range r.Goroutines {
		k := fmt.Sprint(g.State, g.StuckForever, g.Ambiguous, g.HTTP, g.Stack, originKey(g.Origin))
		if index[k] == nil {
			index[k] = &group{}
			order = append(order, index[k])
		}
		index[k].gs = append(index[k].gs, g)
	}
	// The largest groups first; groups of one size by stack, so that the
	// order does not hang on how the runtime handed out IDs.
	keys := make(map[*group]string, len(order))
	for _, g := range order {
		keys[g] = fmt.Sprint(g.gs[0].Stack, originKey(g.gs[0].Origin))
	}
	slices.SortStableFunc(order, func(a, b *group) int {
		return cmp.Or(cmp.Compare(len(b.gs), len(a.gs)), cmp.Compare(keys[a], keys[b]))
	})
	return order
}

// String formats the report as a failure message: a headline, then one block
// per group of identical goroutines.
func (r *Report) String() string {
	if r == nil || len(r.Goroutines) == 0 {
		return "The block left no goroutines running."
	}
	stuck := 0
	for _, g := range r.Goroutines {
		if g.StuckForever {
			stuck++
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The block left %s running after it returned", text.Plural(len(r.Goroutines), "goroutine"))
	switch {
	case stuck > 0 && r.Within > 0:
		fmt.Fprintf(&b, " (%d stuck forever, so reported without waiting out the %v settle window)", stuck, r.Within)
	case stuck > 0:
		fmt.Fprintf(&b, " (%d stuck forever)", stuck)
	case r.Within == 0:
		b.WriteString(" (checked once, with no settle window)")
	case r.Stilled:
		fmt.Fprintf(&b, " (%s)", text.Stilled(r.Within))
	default:
		fmt.Fprintf(&b, " (still there after the %v settle window)", r.Within)
	}
	b.WriteString(":\n")
	who := "the block"
	if r.adopted {
		who = "the test"
	}
	text.Groups(&b, r.groups(), maxGroups, func(b *strings.Builder, g *group) { g.write(b, who) },
		func(g *group) int { return len(g.gs) },
		func(goroutines, groups int) string {
			return "… and " + text.Plural(groups, "more group") + " (" + text.Plural(goroutines, "goroutine") + " with other stacks), not shown"
		})
	return b.String()
}

// write writes a group; who names the block in its creation lines ("the
// block", "the test").
func (gr *group) write(b *strings.Builder, who string) {
	g := gr.gs[0]
	var ids []string
	known := 0
	for _, x := range gr.gs {
		if x.ID != 0 {
			known++
			if len(ids) < maxIDs {
				ids = append(ids, fmt.Sprint(x.ID))
			}
		}
	}
	list := strings.Join(ids, ", ")
	if known > len(ids) {
		list += fmt.Sprintf(" … and %d more", known-len(ids))
	}
	switch n := len(gr.gs); {
	case n > 1 && known > 0:
		fmt.Fprintf(b, "%d × goroutines %s", n, list)
	case n > 1:
		fmt.Fprintf(b, "%d × goroutines", n)
	case known == 1:
		fmt.Fprintf(b, "goroutine %s", list)
	default:
		b.WriteString("goroutine")
	}
	fmt.Fprintf(b, " [%s", g.State)
	if g.Waited >= time.Millisecond {
		fmt.Fprintf(b, ", waiting ≥ %v", g.Waited.Round(time.Millisecond))
	}
	b.WriteString("]")
	if g.StuckForever {
		b.WriteString(" — stuck forever: nothing left can wake it")
	}
	b.WriteString("\n")
	switch g.HTTP {
	case idleHTTPConn:
		b.WriteString("    an idle keep-alive connection kept in an http.Transport's pool: call CloseIdleConnections\n" +
			"    on the client (or its Transport) when done, or set DisableKeepAlives; allow it with\n" +
			"    leak.IgnoringIdleHTTPConns() (under residue test, accept it in the baseline)\n")
	case busyHTTPConn:
		b.WriteString("    a connection of an http.Transport that is not idle: most often a response whose body\n" +
			"    was never closed holds it (call resp.Body.Close())\n")
	}
	if g.Ambiguous {
		b.WriteString("    (a goroutine that is not the block's has the same stack, and its creator has exited\n" +
			"    too, so the two cannot be told apart: the count is right, but the ID shown may be the\n" +
			"    other one's)\n")
	}
	if len(g.Stack) == 0 && g.Raw != "" {
		// A stack in a form the parser does not know: the runtime's own text.
		lines := strings.Split(g.Raw, "\n")
		for i, l := range lines {
			if i == maxRawLines {
				fmt.Fprintf(b, "    … %d more lines\n", len(lines)-i)
				break
			}
			fmt.Fprintf(b, "    %s\n", l)
		}
	} else {
		writeFrames(b, g.Stack)
	}
	writeOrigin(b, g.Origin, who)
}

func writeOrigin(b *strings.Builder, origin []Creation, who string) {
	for i, c := range origin {
		if i == maxCreation {
			fmt.Fprintf(b, "    … %s more\n", text.Plural(len(origin)-i, "creation"))
			return
		}
		verb := "created by"
		if c.Goroutine == 0 && i > 0 {
			// Known from the memory profile: the creator had exited.
			verb = "which was created by"
		}
		fmt.Fprintf(b, "    %s %s", verb, c.Func)
		switch {
		case c.InBlock && hasWays(c.From):
			b.WriteString(" — called by " + who)
		case c.InBlock:
			b.WriteString(" — in " + who)
		case c.Exited && c.Goroutine != 0:
			fmt.Fprintf(b, " in goroutine %d (exited; it was %s's)", c.Goroutine, who)
		case c.Exited:
			fmt.Fprintf(b, " (exited; it was %s's)", who)
		default:
			fmt.Fprintf(b, " in goroutine %d", c.Goroutine)
		}
		fmt.Fprintf(b, "\n        %s\n", c.Location())
		writeFrom(b, c.From, who)
	}
}

// ways returns the ways that go through more than the block's own
// function: a go statement in that function needs no way to be shown.
func ways(from [][]probes.Frame) [][]probes.Frame {
	var out [][]probes.Frame
	for _, p := range from {
		if len(p) > 1 {
			out = append(out, p)
		}
	}
	return out
}

func hasWays(from [][]probes.Frame) bool { return len(ways(from)) > 0 }

// writeFrom shows the ways from the block's own lines to a go statement
// (each innermost first, from the go statement's function out to the block).
func writeFrom(b *strings.Builder, from [][]probes.Frame, who string) {
	ways := ways(from)
	if len(ways) == 0 {
		return
	}
	if len(ways) == 1 {
		fmt.Fprintf(b, "    reached from %s at\n", who)
	} else {
		fmt.Fprintf(b, "    reached from %s in %d ways (each goroutine by one of them):\n", who, len(ways))
	}
	for i, p := range ways {
		if i == maxFrom {
			fmt.Fprintf(b, "      … %s more\n", text.Plural(len(ways)-i, "way"))
			return
		}
		if len(ways) > 1 {
			fmt.Fprintf(b, "      %d. from %s at\n", i+1, who)
		}
		fmt.Fprintf(b, "        %s\n", p[len(p)-1].Location())
		for j := len(p) - 2; j >= 1; j-- {
			if shown := len(p) - 2 - j; shown == maxWayCalls {
				fmt.Fprintf(b, "        … and %s to the go statement\n", text.Plural(j, "more call"))
				break
			}
			fmt.Fprintf(b, "        through %s\n            %s\n", p[j].Func, p[j].Location())
		}
	}
}

func writeFrames(b *strings.Builder, frames []probes.Frame) {
	shown := 0
	for _, f := range frames {
		if stack.IsRuntime(f.Func) && len(frames) > 1 {
			continue
		}
		if shown == maxFrames {
			fmt.Fprintf(b, "    … %d more frames\n", len(frames)-shown)
			return
		}
		fmt.Fprintf(b, "    %s\n", f.Func)
		if loc := f.Location(); loc != "" {
			fmt.Fprintf(b, "        %s\n", loc)
		}
		shown++
	}
	if len(frames) == 0 {
		b.WriteString("    (stack unavailable)\n")
	}
}

func originKey(cs []Creation) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s %v %v|", c.Func, c.Location(), c.InBlock, c.From)
	}
	return b.String()
}
