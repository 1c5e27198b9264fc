// Package probes holds what every residue probe shares: checking that the
// actual value is a block (a func()), running that block exactly once under a
// pprof label that marks every goroutine it starts, turning a panic or a
// runtime.Goexit inside it into an error, and settling — polling with backoff
// until what the block left behind has gone or a window has passed.
//
// A probe observes one aspect of the process (goroutines, file descriptors,
// allocations, globals) around that single run:
//
//	run, err := probes.Exec(block, goroutineProbe, fdProbe)
//
// Exec calls each probe's Before, runs the block, then each probe's After, in
// reverse order, so probes nest like deferred calls.
package probes
