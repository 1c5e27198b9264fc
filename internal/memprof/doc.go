// Package memprof reads the runtime's memory profile for the probes that
// attribute heap objects to a block: the allocation probe (every object the
// block allocated) and the descriptor probe (the stack that opened a file or
// socket). It switches full recording on and off, nestably, and returns
// records with their whole stacks, symbolized.
package memprof
