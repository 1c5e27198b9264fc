package memprof

// DeepRecords and TextStackProfile are FullStackProfile's two ways, for
// comparing them.
var (
	DeepRecords      = deepRecords
	TextStackProfile = textStackProfile
)
