package files

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// root is a directory the probe watches.
type root struct {
	dir  string // absolute
	name string // "temp dir", "working dir"
	// depth is how deep the snapshot before the block lists entries: 1 for
	// the top level only, -1 for the whole tree (up to maxEntries).
	depth int
}

// maxEntries bounds the entries a snapshot of one root records; past it,
// directories are watched as those below a root's depth are.
const maxEntries = 5000

// snapshot is what the watched directories held before the block ran.
type snapshot struct {
	entries map[string]os.FileInfo // by absolute path
	listed  map[string]bool        // directories whose entries were all recorded
}

func take(roots []root) snapshot {
	s := snapshot{entries: map[string]os.FileInfo{}, listed: map[string]bool{}}
	for _, r := range roots {
		budget := maxEntries
		s.walk(r.dir, 1, r.depth, &budget)
	}
	return s
}

func (s *snapshot) walk(dir string, depth, limit int, budget *int) {
	if s.listed[dir] {
		return // a root inside another
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) > *budget {
		return
	}
	*budget -= len(ents)
	s.listed[dir] = true
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		s.entries[p] = fi
		if fi.IsDir() && e.Name() != ".git" && (limit < 0 || depth < limit) {
			s.walk(p, depth+1, limit, budget)
		}
	}
}

// diff returns the topmost paths below the roots that were not there
// before the block started at start. Below a directory whose entries the
// snapshot recorded, a path is new when the snapshot lacks it; below one it
// did not list, only directories whose modification time changed are
// looked into, and an entry is new when the file system says it was born
// after start.
func (s *snapshot) diff(roots []root, start time.Time) []found {
	var out []found
	seen := map[string]bool{}
	for _, r := range roots {
		s.diffDir(r.dir, start, seen, &out)
	}
	return out
}

// found is a new path; exact when it is new by the snapshot's list, not by
// its birth time.
type found struct {
	path  string
	exact bool
}

func (s *snapshot) diffDir(dir string, start time.Time, seen map[string]bool, out *[]found) {
	if seen[dir] {
		return
	}
	seen[dir] = true
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	listed := s.listed[dir]
	for _, e := range ents {
		if e.Name() == ".git" {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := e.Info()
		if err != nil {
			continue
		}
		old, known := s.entries[p]
		var isNew bool
		if listed {
			isNew = !known || !os.SameFile(old, fi)
		} else {
			b, ok := birth(p)
			isNew = ok && !b.Before(start)
		}
		switch {
		case isNew:
			*out = append(*out, found{p, listed})
		case !fi.IsDir():
		case s.listed[p],
			known && !fi.ModTime().Equal(old.ModTime()),
			!known && !fi.ModTime().Before(start):
			s.diffDir(p, start, seen, out)
		}
	}
}

// testingTempDir reports whether dir, a directory at the top of the temp
// directory, is one that testing's T.TempDir made: MkdirTemp with the
// test's name gives a name ending in random digits, and it holds only the
// numbered directories ("001", "002"…) handed to the test. testing removes
// it when the test ends.
func testingTempDir(dir string) bool {
	base := filepath.Base(dir)
	if base == "" || !isDigit(base[len(base)-1]) {
		return false
	}
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return false
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || len(n) < 3 || strings.TrimLeft(n, "0123456789") != "" {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// countEntries counts the files and directories below dir, up to
// maxEntries.
func countEntries(dir string) int {
	n := 0
	_ = filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if p != dir && err == nil {
			n++
		}
		if n >= maxEntries {
			return filepath.SkipAll
		}
		return nil
	})
	return n
}
