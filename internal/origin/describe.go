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

// WriteSite writes, indented for a failure message, where a leftover came
// from: "<verb> by the block at file:line" (or "by a goroutine the block
// started, running fn" when byBlock is false), then the stack, innermost
// first, from the call that made it out to the block.
func WriteSite(b *strings.Builder, verb string, byBlock bool, frames []stack.Frame) {
	if len(frames) == 0 {
		return
	}
	last := frames[len(frames)-1]
	if byBlock {
		fmt.Fprintf(b, "    %s by the block at %s\n", verb, last.Location())
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
