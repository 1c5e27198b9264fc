package origin

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/internal/stack"
	"github.com/residue-go/residue/internal/text"
)

// maxFrames bounds the frames WriteSite shows; the outermost ones, nearest
// the block, are kept.
const maxFrames = 10

// Who names who made a leftover on the block's own goroutine, for
// WriteSite: "the block", or "the test" when a test adopted the run (a
// test audited as a whole); "" when a goroutine the block started made it.
func Who(onBlock, adopted bool) string {
	switch {
	case !onBlock:
		return ""
	case adopted:
		return "the test"
	}
	return "the block"
}

// WriteSite writes, indented for a failure message, where a leftover came
// from: "<verb> by <who> at file:line" (who as Who names it; "by a
// goroutine the block started, running fn" when who is ""), then the
// stack, innermost first, from the call that made it out to the block.
func WriteSite(b *strings.Builder, verb, who string, frames []stack.Frame) {
	if len(frames) == 0 {
		return
	}
	last := frames[len(frames)-1]
	if who != "" {
		fmt.Fprintf(b, "    %s by %s at %s\n", verb, who, last.Location())
	} else {
		fmt.Fprintf(b, "    %s by a goroutine the block started, running %s\n", verb, last.Func)
	}
	fmt.Fprintf(b, "    stack that %s it (innermost first):\n", verb)
	if n := len(frames) - maxFrames; n > 0 {
		fmt.Fprintf(b, "        … %s …\n", text.Plural(n, "frame"))
		frames = frames[n:]
	}
	for _, f := range frames {
		fmt.Fprintf(b, "        %s\n", f.Func)
		if loc := f.Location(); loc != "" {
			fmt.Fprintf(b, "            %s\n", loc)
		}
	}
}

// WriteSites writes, as WriteSite does, where a leftover came from: its one
// stack, or, when it is one of several leftovers of its kind made at
// different places, each of the several stacks, under a line saying so and
// why ("    created at one of 2 places (" + why + "):"). It reports whether
// it knew a stack to write.
func WriteSites(b *strings.Builder, verb, who string, one []stack.Frame, several [][]stack.Frame, why string) bool {
	switch {
	case one != nil:
		WriteSite(b, verb, who, one)
	case len(several) > 0:
		fmt.Fprintf(b, "    %s at one of %d places (%s):\n", verb, len(several), why)
		for _, f := range several {
			WriteSite(b, verb, who, f)
		}
	default:
		return false
	}
	return true
}

// Maker returns the outermost function of a leftover's stack — one, or
// the first of several possible — for a finding's key; "unknown" when no
// stack is known.
func Maker(one []stack.Frame, several [][]stack.Frame) string {
	if one == nil && len(several) > 0 {
		one = several[0]
	}
	if len(one) == 0 {
		return "unknown"
	}
	return one[len(one)-1].Func
}
