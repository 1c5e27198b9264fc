package alloc

// ErrDeepStacks is wrapped by the error of a measurement made at stacks
// deeper than the runtime records.
var ErrDeepStacks = errDeepStacks

// Exceeded returns the limits the block went over.
func (m *Measurement) Exceeded() []Limit { return m.exceeded() }
