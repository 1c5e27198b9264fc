package memprof

// TextStackProfile is FullStackProfile's way for a release whose records
// are not read directly, for comparing the two; ReadsDeep says whether
// this one's are.
var TextStackProfile = textStackProfile

func ReadsDeep() bool { return readsDeep }

// DirectObjects is PublishedObjects's read, without its cache.
func DirectObjects() Objects {
	var buf offHeap[deepRecord]
	defer buf.release()
	return readObjects(&buf)
}
