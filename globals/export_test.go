package globals

// What the package's external tests and benchmarks call that users need
// not: snapshots taken and compared by hand, the debug-info index of any
// binary, the default scope.
var (
	Take         = takeSnapshot
	Compare      = compare
	OpenIndex    = openIndex
	DefaultScope = defaultScope
)
