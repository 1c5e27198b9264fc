// Package leak finds what a block of code left running or open: goroutines
// it started that are still alive (Find), and file descriptors and
// sockets it opened that are still open (FindFDs, FindSockets). Each comes
// back as a report whose String method is the failure message: one entry per
// leftover, with the line of the block it came from.
//
//	report, err := leak.Find(func() { startWorkers(3) })
//	if err == nil && report.Leaked() {
//		t.Error(report)
//	}
//
// Only what the block itself started counts: goroutines carry the block's
// pprof label and creation chain, descriptors the stack that created them.
// What tests running in parallel start is never reported. Leftovers get a
// settle window to go away (Within, default one second); a goroutine the
// runtime proves stuck forever is reported at once.
//
// The probes (NewProbe, NewFDProbe, NewSocketProbe) run under
// package probes, alone or together with other probes in one run of a
// block; package matchers wraps them as Gomega matchers.
package leak
