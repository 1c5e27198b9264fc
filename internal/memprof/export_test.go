package memprof

// DeepRecords and TextStackProfile are FullStackProfile's two ways, for
// comparing them.
var (
	DeepRecords      = deepRecords
	TextStackProfile = textStackProfile
)

// DeepObjects is PublishedObjects's direct read, without its cache.
func DeepObjects() (Objects, bool) {
	var buf []deepRecord
	return deepObjects(&buf)
}
