// Package leak finds the goroutines a block of code left running: ones it
// started, directly or through other goroutines, that are still alive after
// it returned (Find). The report's String method is the failure message:
// one entry per group of identical goroutines, with the chain of go
// statements that started them, back to the line of the block that led
// there.
//
//	report, err := leak.Find(func() { startWorkers(3) })
//	if err == nil && len(report.Goroutines) > 0 {
//		t.Error(report)
//	}
//
// Only what the block itself started counts: goroutines carry the block's
// pprof label and creation chain. What tests running in parallel start is
// never reported. Leftovers get a settle window to go away (Within, default
// one second); a goroutine the runtime proves stuck forever is reported at
// once.
//
// The same probe runs in residue's combined checks (residue.Find,
// residue.Check, HaveSideEffects, CheckEverySpec) beside the others;
// package matchers wraps it as the LeakGoroutines Gomega matcher.
// Descriptors and sockets are package fds's.
package leak
