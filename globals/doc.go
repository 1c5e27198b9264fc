// Package globals finds the package-level variables, environment variables,
// working directory and os.Args that a block of code changed, and reports
// each change by path:
//
//	mime.mimeTypes: added ".foo": "text/foo"
//	example.com/app.Config.Timeout: 5s → 10s
//
// Variables are discovered from the running binary's own DWARF debug info,
// which the go command strips from test binaries unless asked to keep it:
//
//	go test -ldflags=-w=0 ./...
//	ginkgo --ldflags=-w=0 ./...
//
// Without debug info, Watching names variables explicitly and needs none.
//
// The plain API works without any test framework:
//
//	report, err := globals.Find(func() { mime.AddExtensionType(".foo", "text/foo") })
//	if err != nil { ... }
//	if len(report.Changes) > 0 { fmt.Println(report) }
//
// Lazy caches, connection pools, synchronisation and what the garbage
// collector changes are not reported; every such rule is one entry of the
// tables in rules.go, with its reason. See defaultScope for which packages
// are read.
//
// Snapshots never take the process down and never trip the race detector:
// memory other goroutines may be writing is read without instrumentation,
// and maps through their layout rather than the runtime's iterator; a map
// that keeps changing while it is read is listed as not judged. A report
// also says when other checks or tests running in parallel were under way
// during the block, since their changes cannot be told apart from the
// block's.
package globals
