// Package osproc tells whether the process has child processes, for the
// processes probe and for the proof that nothing can run before a settle
// window ends (probes.Run.Settle).
package osproc
