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
//	if report.Changed() { fmt.Println(report) }
//
// Lazy caches and connection pools are not reported. Values behind
// sync.Pool, sync.Mutex and the other sync primitives are not read; entries
// of maps keyed by reflect.Type (memo tables such as encoding/json's) are
// not read; the changes to a struct whose sync.Once fires during the block
// are that Once's work, and so are the package-level variables that go from
// zero to set while a package-level sync.Once fires; of net/http.Transport,
// net/http.Server and database/sql.DB only the exported configuration is
// compared; and mime's built-in table is loaded before the first snapshot.
// See DefaultScope for which packages are read.
package globals
