// Package files finds the files and directories a block of code created
// and did not remove, in the temp directory (os.TempDir) and the working
// directory, each with the line of the block that created it.
//
//	report, err := files.Find(func() { os.WriteFile(filepath.Join(os.TempDir(), "out.json"), data, 0o644) })
//	if err == nil && len(report.Paths) > 0 {
//		t.Error(report)
//	}
//
// What was there before the block ran is never reported, nor what testing's
// T.TempDir hands out (testing removes it when the test ends). A path is
// blamed on the block only when the block, or a goroutine it started,
// created files (or directories) during the run — the stacks of the calls
// that did, recorded in the memory profile while the block runs, carry the
// block's marker frame — so what other processes and other probed blocks
// create in the temp directory meanwhile is not counted. A path removed
// within the settle window (Within, default one second) is not reported.
package files

import (
	"cmp"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/origin"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/record"
	"github.com/residue-go/residue/internal/stack"
)

// Path is a file or directory the block created and left.
type Path struct {
	Path string // absolute
	// In names the watched directory it is in: "temp dir" or "working dir".
	In  string
	Dir bool
	// Entries is, for a directory, how many files and directories it holds,
	// at any depth.
	Entries int
	// Created is the stack of the call that created it, innermost first,
	// from the os function (os.Create, os.WriteFile, os.MkdirTemp…) out to
	// the block's own line. Nil when the block created such paths at
	// several places (see CreatedAt).
	Created []probes.Frame
	// CreatedAt lists the possible stacks when the block created paths of
	// this kind at several places and it cannot be told which one made
	// this one.
	CreatedAt [][]probes.Frame
	// By says how it is known to be the block's: "block" (a call on the
	// block's goroutine), "goroutine" (a goroutine the block started).
	By string
	// OneOf is set when more paths of this kind appeared than the block's
	// calls can account for (another process or another probed block made
	// some meanwhile): the block's paths are among these, and residue
	// cannot tell which.
	OneOf []string

	adopted bool // a test checked as a whole adopted the run: "the test"

	born    time.Time // when the file system says it was created, else its modification time
	exact   bool      // new by the snapshot's list, not by birth time
	ignored bool      // IgnoringPath matches it
	gone    bool      // seen new at an earlier look, removed since
}

// Report lists the files and directories a block left.
type Report struct {
	// Paths are the block's, still there after the settle window.
	Paths []Path
	// Others appeared while the block ran and are still there, but nothing
	// ties them to the block: no call of the block created paths of their
	// kind (another process, another probed block, a child process or a raw
	// system call did).
	Others []Path
	Within time.Duration // the settle window
	Waited time.Duration // how long the probe waited after the block returned
	// Stilled is set when the window ended early: nothing in the process
	// could run before its end, so what is listed would still be there.
	Stilled bool

	// stacksStopped: the recording of allocation stacks stopped while the
	// block ran (memprof.StackBudget), so that the block's own calls may
	// be among those no stack ties to it.
	stacksStopped bool
}

// probe finds the files and directories a block created in the temp
// directory and the working directory that are still there once it has
// returned and the settle window has passed. It implements probes.Probe.
//
// Before the block it lists the top level of the temp directory and the
// working directory's tree (up to 5000 entries); after it, it looks again,
// and into the directories whose modification time changed. During the run
// it records every allocation (runtime.MemProfileRate = 1), which gives the
// stacks of the calls that created files.
type probe struct {
	cfg    config
	report *Report

	roots    []root
	before   snapshot
	baseline origin.Baseline
	span     *origin.Span
}

// kind registers the probe with the combined checks.
//
// It runs in the combined checks (residue.Find, HaveSideEffects…) only when
// one of its options is given, as in files.Within(time.Second): a path is
// tied to the block by counting the block's calls that create paths of its
// kind, which other processes writing the same directories at the same
// time can confuse.
var kind = func() probes.Kind {
	k := probes.NewKind(name, newProbe)
	k.OnDemand = true
	return probes.Register(k)
}()

// newProbe returns a file probe. An invalid option is an error naming it.
func newProbe(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg}, err
}

// Report returns what the last run left (a *Report), or nil before a run.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.report)) }

// Find runs block once and reports the files and directories it left in
// the temp directory and the working directory. The error is set when an
// option is invalid, or when the block panicked or called runtime.Goexit.
func Find(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(kind, block, opts))
}

var runs origin.Runs

// Before implements probes.Probe.
func (p *probe) Before(r *probes.Run) error {
	p.report = nil
	p.roots = p.roots[:0]
	if tmp, err := filepath.Abs(os.TempDir()); err == nil {
		p.roots = append(p.roots, root{dir: tmp, name: "temp dir", depth: 1})
	}
	if wd, err := os.Getwd(); err == nil {
		p.roots = append(p.roots, root{dir: wd, name: "working dir", depth: -1})
	}
	p.span = runs.Begin(r)
	p.before = take(p.roots)
	// The claim counts calls: what earlier runs did must not look done now.
	p.baseline = origin.TakeCurrent()
	r.RecordAllocations()
	return nil
}

// After implements probes.Probe: it settles, attributes and describes the
// new paths, and records the report.
func (p *probe) After(r *probes.Run) error {
	defer p.span.End()
	// File times come from the kernel's coarse clock, which may lag.
	start := r.Started().Add(-clockSlack)
	var (
		sites *creators
		seen  = map[string]Path{} // every new path seen, by path
		mine  []Path
		other []Path
	)
	stilled := r.Settle(p.cfg.within, func(_ int, _ bool) bool {
		fresh := p.fresh(start)
		for path, old := range seen {
			old.gone = true
			seen[path] = old
		}
		for _, d := range p.describe(fresh) {
			seen[d.Path] = d
		}
		if len(seen) == 0 {
			return true
		}
		if sites == nil {
			sites = p.creators(r, start)
		}
		// Only what could be the block's is worth waiting for.
		mine, other = sites.claim(slices.Collect(maps.Values(seen)))
		return len(mine) == 0
	})
	rep := &Report{Within: p.cfg.within, Stilled: stilled && len(mine) > 0, Paths: mine, Others: other, stacksStopped: r.StacksStopped()}
	rep.Waited = time.Since(r.Returned())
	p.report = rep
	return nil
}

// fresh returns the new paths that are not the Go tools' own.
func (p *probe) fresh(start time.Time) []found {
	var out []found
	for _, f := range p.before.diff(p.roots, start) {
		if !p.inToolDir(f.path) {
			out = append(out, f)
		}
	}
	return out
}

// inToolDir reports whether path is, or is below, a directory at the top
// of the temp directory that the Go tools make and remove themselves: one
// testing's T.TempDir made, a work directory of the go command
// ("go-build…"), which builds while tests run, or of residue test
// (record.WorkDirPrefix).
func (p *probe) inToolDir(path string) bool {
	tmp := p.roots[0]
	if tmp.name != "temp dir" {
		return false
	}
	rel, err := filepath.Rel(tmp.dir, path)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
		return false
	}
	top, _, _ := strings.Cut(rel, string(filepath.Separator))
	return strings.HasPrefix(top, "go-build") || strings.HasPrefix(top, record.WorkDirPrefix) || testingTempDir(filepath.Join(tmp.dir, top))
}

func (p *probe) describe(paths []found) []Path {
	out := make([]Path, 0, len(paths))
	for _, f := range paths {
		path := f.path
		fi, err := os.Lstat(path)
		if err != nil {
			continue // removed meanwhile
		}
		d := Path{Path: path, Dir: fi.IsDir(), born: fi.ModTime(), exact: f.exact, ignored: p.cfg.ignored(path)}
		if b, ok := birth(path); ok {
			d.born = b
		}
		for _, r := range p.roots {
			if strings.HasPrefix(path, r.dir+string(filepath.Separator)) && len(r.dir) >= len(d.In) {
				d.In = r.name
			}
		}
		if d.Dir {
			d.Entries = countEntries(path)
		}
		out = append(out, d)
	}
	return out
}

// The os functions that create paths, those that remove them, and those
// that only read them (so that an os.OpenFile reached through os.Open or
// os.ReadFile is no creation).
var (
	fileMakers = []string{"os.Create", "os.CreateTemp", "os.WriteFile", "os.OpenFile", "os.Symlink", "os.Link", "os.CopyFS"}
	dirMakers  = []string{"os.Mkdir", "os.MkdirAll", "os.MkdirTemp"}
	removers   = []string{"os.Remove", "os.RemoveAll"}
	readers    = []string{"os.Open", "os.ReadFile", "os.ReadDir", "os.OpenInRoot", "os.OpenRoot"}
)

func watched(fn string) bool {
	return slices.Contains(fileMakers, fn) || slices.Contains(dirMakers, fn) ||
		slices.Contains(removers, fn) || slices.Contains(readers, fn)
}

// clockSlack is how far behind the run's start a file time may be and still
// be taken as after it.
const clockSlack = 20 * time.Millisecond

// creators are the calls that created paths during the run.
type creators struct {
	// mine are the block's, by kind (dir or not); their counts are calls.
	mine [2][]origin.Site
	// removed counts the block's calls of os.Remove (files first) and
	// os.RemoveAll (directories first); what exceeds the calls that made
	// that kind counts against the other kind. os.RemoveAll may count one
	// per entry removed, which errs towards claiming fewer paths.
	removed [2]int64
	// start and returned bound when the block's own goroutine made paths.
	start, returned time.Time
	adopted         bool // a test checked as a whole adopted the run
}

func kindOf(dir bool) int {
	if dir {
		return 1
	}
	return 0
}

// creators reads the block's calls that create and remove paths: on its
// goroutine, on a goroutine it started, or on any goroutine when no other
// probed block ran meanwhile (see origin.Claim).
func (p *probe) creators(r *probes.Run, start time.Time) *creators {
	c := &creators{start: start, returned: r.Returned().Add(clockSlack), adopted: r.Adopted()}
	alone := p.span.Alone()
	for _, s := range origin.Sites(p.baseline, r, watched) {
		if slices.Contains(readers, s.Via) || stack.HasFunc(s.Frames, "testing.(*common).TempDir") || opensExisting(&s) {
			continue
		}
		if !origin.Claim(&s, r, p.baseline, alone) {
			continue
		}
		switch s.Via {
		case "os.Remove":
			c.removed[0] += s.Count
		case "os.RemoveAll":
			c.removed[1] += s.Count
		default:
			k := kindOf(slices.Contains(dirMakers, s.Via))
			c.mine[k] = append(c.mine[k], s)
		}
	}
	return c
}

// claim splits the paths seen into the block's and the others, kind by
// kind (files, directories). Of those born while the block's calls could
// make them, the block made as many as its calls did, less those its calls
// removed; those removed since they were seen count first, and those
// IgnoringPath matches next. When
// more are left than the block's calls, those new by the snapshot's list
// are taken before those found by birth time inside directories that
// existed before (where another process at work, such as a build, makes
// files), and the latter only when all of them can be the block's; when
// still more are left, each reported one is one of the candidates. Only
// paths still there and not ignored are returned.
func (c *creators) claim(paths []Path) (mine, others []Path) {
	slices.SortFunc(paths, func(a, b Path) int { return strings.Compare(a.Path, b.Path) })
	for k := range 2 {
		n := c.left(k)
		by, end := "goroutine", c.returned
		for _, s := range c.mine[k] {
			if s.Owner == origin.Mine {
				by = "block"
			} else {
				// A goroutine of the block may create paths until now.
				end = time.Now().Add(clockSlack)
			}
		}
		var exact, loose []Path
		for _, p := range paths {
			switch {
			case kindOf(p.Dir) != k:
			case p.born.Before(c.start) || p.born.After(end):
				others = append(others, p)
			case p.gone:
				n--
			case p.exact:
				exact = append(exact, p)
			default:
				loose = append(loose, p)
			}
		}
		// Ignored paths first: the block makes them.
		slices.SortStableFunc(exact, func(a, b Path) int { return -cmp.Compare(btoi(a.ignored), btoi(b.ignored)) })
		var names []string
		switch {
		case int64(len(exact)+len(loose)) <= n:
			exact, loose = append(exact, loose...), nil
		case int64(len(exact)) > n:
			for _, p := range exact {
				names = append(names, p.Path)
			}
		}
		others = append(others, loose...)
		for i, p := range exact {
			if int64(i) >= n {
				others = append(others, p)
				continue
			}
			p.By, p.OneOf, p.adopted = by, names, c.adopted
			if sites := makersOf(p, c.mine[k]); len(sites) == 1 {
				p.Created = sites[0].Frames
			} else {
				for _, s := range sites {
					p.CreatedAt = append(p.CreatedAt, s.Frames)
				}
			}
			mine = append(mine, p)
		}
	}
	drop := func(p Path) bool { return p.gone || p.ignored }
	others = slices.DeleteFunc(others, drop)
	slices.SortFunc(others, func(a, b Path) int { return strings.Compare(a.Path, b.Path) })
	return slices.DeleteFunc(mine, drop), others
}

// left returns how many paths of kind k the block's calls made and did not
// remove.
func (c *creators) left(k int) int64 {
	var made [2]int64
	for k := range 2 {
		for _, s := range c.mine[k] {
			made[k] += s.Count
		}
	}
	n := made[k] - c.removed[k]
	if excess := c.removed[1-k] - made[1-k]; excess > 0 {
		n -= excess
	}
	return n
}

// makersOf narrows the sites that may have made p by its name: os.CreateTemp
// and os.MkdirTemp give names with a long run of random digits, other calls
// take the name they are given.
func makersOf(p Path, sites []origin.Site) []origin.Site {
	temp := func(s origin.Site) bool { return s.Via == "os.CreateTemp" || s.Via == "os.MkdirTemp" }
	random := hasRandomDigits(filepath.Base(p.Path))
	var out []origin.Site
	for _, s := range sites {
		if temp(s) == random {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return sites
	}
	return out
}

// hasRandomDigits reports whether name holds a run of six or more digits,
// as the random part os.CreateTemp and os.MkdirTemp add (a number below
// 2³² in decimal, rarely shorter).
func hasRandomDigits(name string) bool {
	run := 0
	for i := 0; i < len(name); i++ {
		if run = run + 1; !isDigit(name[i]) {
			run = 0
		}
		if run >= 6 {
			return true
		}
	}
	return false
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// opensExisting reports whether a site is an os.OpenFile by a standard
// library package that opens a file that exists (os/exec opens os.DevNull
// for a command's missing standard streams).
func opensExisting(s *origin.Site) bool {
	return s.Via == "os.OpenFile" && len(s.Frames) > 1 && strings.HasPrefix(s.Frames[1].Func, "os/exec.")
}
