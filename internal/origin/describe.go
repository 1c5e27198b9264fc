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

// Subject names the block in the lines WriteSite writes: "the test" when
// a test adopted the run (a test checked as a whole), else "the block".
func Subject(adopted bool) string {
	if adopted {
		return "the test"
	}
	return "the block"
}

// WriteSite writes, indented for a failure message, where a leftover came
// from: "<verb> by <subject> at file:line" when the block's own goroutine
// made it (onBlock), else "by a goroutine <subject> started, running fn",
// fn the outermost function of the user's code; then the stack, innermost
// first, from the call that made it out to the block.
func WriteSite(b *strings.Builder, verb, subject string, onBlock bool, frames []stack.Frame) {
	if len(frames) == 0 {
		return
	}
	own := stack.OwnCode(frames)
	last := own[len(own)-1]
	if onBlock {
		fmt.Fprintf(b, "    %s by %s at %s\n", verb, subject, last.Location())
	} else {
		fmt.Fprintf(b, "    %s by a goroutine %s started, running %s\n", verb, subject, last.Func)
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
func WriteSites(b *strings.Builder, verb, subject string, onBlock bool, one []stack.Frame, several [][]stack.Frame, why string) bool {
	switch {
	case one != nil:
		WriteSite(b, verb, subject, onBlock, one)
	case len(several) > 0:
		fmt.Fprintf(b, "    %s at one of %d places (%s):\n", verb, len(several), why)
		for _, f := range several {
			WriteSite(b, verb, subject, onBlock, f)
		}
	default:
		return false
	}
	return true
}

// Maker returns the outermost function of the user's code (stack.OwnCode)
// on a leftover's stack — one, or the first of several possible — for a
// finding's key; "unknown" when no stack is known.
func Maker(one []stack.Frame, several [][]stack.Frame) string {
	if one == nil && len(several) > 0 {
		one = several[0]
	}
	if len(one) == 0 {
		return "unknown"
	}
	own := stack.OwnCode(one)
	return own[len(own)-1].Func
}
