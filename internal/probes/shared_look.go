package probes

// sharedLook is a dump of every goroutine's stack that one probe of a run
// took and the run's other probes may read in place of a dump of their
// own (ShareLook).
type sharedLook struct {
	text  string
	after bool // taken in Finish rather than in Start
}

// ShareLook offers text, a dump of every goroutine's stack (runtime.Stack)
// that the calling probe has just taken in its Before or After, to the
// run's other probes in the same phase (SharedLook). Start calls the
// probes' Befores one after the other on one goroutine, and Finish their
// Afters, with nothing of the block's in between: a dump one took is as
// good as one the next would take a moment later. Each dump stops the
// world and writes every frame of every goroutine: a fifth of a clean
// check's time when each probe took its own.
func (r *Run) ShareLook(text string) {
	r.shared = sharedLook{text: text, after: !r.finishing.IsZero()}
}

// SharedLook returns the last dump ShareLook was given in the phase under
// way (the Befores or the Afters), and whether there is one. The dump's
// first goroutine is the one that calls the probes.
func (r *Run) SharedLook() (string, bool) {
	if r.shared.text == "" || r.shared.after == r.finishing.IsZero() {
		return "", false
	}
	return r.shared.text, true
}
