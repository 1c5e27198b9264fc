//go:build !go1.26 || go1.28

package memprof

// deepRecords cannot read this release's records directly (see deep.go).
func deepRecords() ([]StackRecord, bool) { return nil, false }

// deepRecord has no known layout in this release.
type deepRecord struct{}

// deepObjects cannot read this release's records directly (see deep.go).
func deepObjects(*[]deepRecord) (Objects, bool) { return nil, false }
