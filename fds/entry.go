package fds

import "sync"

// fdEntry is what a snapshot records for one open descriptor: enough to tell
// whether the same number still refers to the same thing.
type fdEntry struct {
	num      int
	dev, ino uint64
	mode     uint32 // the file type bits of st_mode
}

// File type bits of st_mode, the same on every Unix.
const (
	modeType   = 0o170000
	modeSocket = 0o140000
	modeLink   = 0o120000
	modeFile   = 0o100000
	modeBlock  = 0o060000
	modeDir    = 0o040000
	modeChar   = 0o020000
	modeFIFO   = 0o010000
)

func (e fdEntry) isSocket() bool { return e.mode == modeSocket }

func (e fdEntry) same(o fdEntry) bool {
	return e.dev == o.dev && e.ino == o.ino && e.mode == o.mode
}

// fdMu serializes everything residue itself opens while looking at the
// descriptor table, so that one run's own descriptors (the directory it
// lists, the tables it reads) are never open during another run's snapshot.
var fdMu sync.Mutex

// snapshot lists the process's open descriptors, sorted by number, leaving
// out the ones it opens itself.
func snapshot() ([]fdEntry, error) {
	fdMu.Lock()
	defer fdMu.Unlock()
	return platformSnapshot()
}
