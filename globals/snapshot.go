package globals

import (
	"debug/elf"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// snapshot is the captured state of the variables in scope and of the
// process (environment, working directory, os.Args) at one moment.
type snapshot struct {
	cfg      *config
	vars     []captured
	env      []string // os.Environ()
	cwd      string
	settings []setting
	packages int
	took     time.Duration
}

type captured struct {
	name, pkg string
	state     *node
	watched   uintptr // the address of a variable given to Watching
	// asLoaded: the variable held the value the program was loaded with,
	// when that is known (index.loadedImage).
	asLoaded bool
}

// captureAll captures each variable of from into out, at the same index,
// on c and, when the process may run two goroutines at once and they are
// many, on a second goroutine beside it: each takes the next variable not
// taken yet. beside is run too, on the second goroutine before it takes
// any (the process settings, whose system calls then overlap the first
// variables' walks), or after the variables when there is none. A
// snapshot's walks only read, and what they share (the plans, the
// captures kept for reuse, the memos) is made for walks on several
// goroutines at once, as parallel tests make them.
func captureAll(c *capturer, from []*scoped, out []captured, beside func()) {
	var next atomic.Int64
	work := func(c *capturer) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(from) {
				return
			}
			sc, v := from[i], &out[i]
			v.state = c.guarded(func(c *capturer) *node {
				if sc.val.IsValid() {
					return c.captureScoped(sc)
				}
				return c.captureParts(sc.parts)
			})
			v.asLoaded = sc.image != nil && equalNoRace(sc.image, sc.at)
		}
	}
	if len(from) < minParallelCapture || runtime.GOMAXPROCS(0) < 2 {
		work(c)
		beside()
		return
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		beside()
		// Like the calling goroutine's (take): a value torn by a
		// concurrent write may point nowhere.
		debug.SetPanicOnFault(true)
		h := newCapturer()
		defer h.release()
		work(h)
	})
	work(c)
	wg.Wait()
}

// minParallelCapture is the fewest variables a snapshot reads on two
// goroutines.
const minParallelCapture = 64

// takeSnapshot captures the state selected by opts: by default every package-level
// variable of the packages in defaultScope, plus the environment, the
// working directory and os.Args. It fails with a *noDebugInfoError when
// that needs debug info the binary lacks.
func takeSnapshot(opts ...Option) (*snapshot, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	return take(cfg)
}

func take(cfg *config) (*snapshot, error) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		return nil, fmt.Errorf("cannot snapshot package-level variables on %s/%s: %w, and its pointers are %d bits", runtime.GOOS, runtime.GOARCH, env.ErrWordSize, 8*unsafe.Sizeof(uintptr(0)))
	}
	start := time.Now()
	primeOnce.Do(prime)
	// A value torn by a concurrent write may point nowhere: reading it
	// panics instead of aborting, and the map reader recovers.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	s := &snapshot{cfg: cfg}
	var vars []scoped
	npkgs := 0
	if cfg.usesDebugInfo() {
		var err error
		if vars, npkgs, err = variablesInScope(cfg); err != nil {
			return nil, err
		}
	}
	// A variable that another one in scope points to is reported under the
	// pointer's name (net/http.DefaultServeMux, not defaultServeMux).
	var pointedTo map[uintptr]bool
	for i := range vars {
		if v := &vars[i]; v.pointer && !v.val.IsNil() {
			if pointedTo == nil {
				pointedTo = map[uintptr]bool{}
			}
			pointedTo[v.val.Pointer()] = true
		}
	}
	pkgs := make([]bool, npkgs)
	c := newCapturer()
	defer c.release()
	s.vars = make([]captured, 0, len(vars)+len(cfg.watching)+1)
	var inScope []*scoped
	for i := range vars {
		v := &vars[i]
		if pointedTo[uintptr(v.at)] {
			continue
		}
		if v.Name == "os.Args" || cfg.ignoredVariable(v.Name, v.Package) {
			continue
		}
		if !pkgs[v.pkg] {
			pkgs[v.pkg] = true
			s.packages++
		}
		s.vars = append(s.vars, captured{name: v.Name, pkg: v.Package})
		inScope = append(inScope, v)
	}
	captureAll(c, inScope, s.vars, func() { s.settings = processSettings() })
	for i, w := range cfg.watching {
		name := "Watching argument " + strconv.Itoa(i+1) + " (" + w.ptr.Type().Elem().String() + ")"
		state := c.guarded(func(c *capturer) *node { return c.captureReusing(name, w.ptr.Elem()) })
		s.vars = append(s.vars, captured{name: name, state: state, watched: w.ptr.Pointer()})
	}
	args := c.guarded(func(c *capturer) *node { return c.captureReusing("os.Args", reflect.ValueOf(&os.Args).Elem()) })
	s.vars = append(s.vars, captured{name: "os.Args", pkg: "os", state: args})
	s.env = os.Environ()
	if wd, err := os.Getwd(); err == nil {
		s.cwd = wd
	} else {
		s.cwd = "(unknown: " + err.Error() + ")"
	}
	s.took = time.Since(start)
	return s, nil
}

// scoped is a variable in scope, resolved to a live value once per
// process.
type scoped struct {
	variable
	val     reflect.Value  // the variable, when its type resolved
	parts   []part         // else its fields, when it is a struct that splits
	pointer bool           // val is a pointer, which may name another variable
	at      unsafe.Pointer // where it lives
	pkg     int            // index of its package among the scope's
	image   []byte         // what it held when the program was loaded, if known
	reuse   *reuseSlot     // its plan and last capture; nil when never reused
}

// scopes holds the variables of each scope taken so far, by InPackages
// patterns: the index and the variables' types do not change, and
// resolving them was a good part of a snapshot's cost.
var scopes = struct {
	sync.Mutex
	m map[string]scopedVars
}{m: map[string]scopedVars{}}

type scopedVars struct {
	vars     []scoped
	packages int
}

// variablesInScope returns the variables cfg's scope selects, resolved, and
// the number of packages they belong to.
func variablesInScope(cfg *config) ([]scoped, int, error) {
	key := ""
	if cfg.packages != nil {
		key = "\x00" + strings.Join(cfg.packages, "\x00")
	}
	scopes.Lock()
	sv, ok := scopes.m[key]
	scopes.Unlock()
	if ok {
		return sv.vars, sv.packages, nil
	}
	ix, err := selfIndex()
	if err != nil {
		return nil, 0, err
	}
	scope := defaultScope
	if cfg.packages != nil {
		if err := matchAll(cfg.packages, ix.Packages()); err != nil {
			return nil, 0, err
		}
		scope = inPatterns(cfg.packages)
	}
	vs, err := ix.Variables(scope)
	if err != nil {
		return nil, 0, err
	}
	pkgIndex := map[string]int{}
	for _, v := range vs {
		sc := scoped{variable: v, at: ix.addr(v), image: ix.loadedImage(v)}
		if val, ok := ix.value(v); ok {
			sc.val, sc.pointer = val, val.Kind() == reflect.Pointer
			sc.reuse = reusableVariable(v.Name, val)
			noteAppendOnly(v.Name, val)
		} else if parts, ok := ix.parts(v); ok {
			sc.parts = parts
		} else {
			continue
		}
		i, ok := pkgIndex[v.Package]
		if !ok {
			i = len(pkgIndex)
			pkgIndex[v.Package] = i
		}
		sc.pkg = i
		sv.vars = append(sv.vars, sc)
	}
	sv.packages = len(pkgIndex)
	scopes.Lock()
	scopes.m[key] = sv
	scopes.Unlock()
	return sv.vars, sv.packages, nil
}

// Variables is the number of variables the snapshot holds.
func (s *snapshot) Variables() int { return len(s.vars) }

// watchedName names a watched variable that changed: by its DWARF or symbol
// table entry when the binary has one, else keeps the placeholder.
func watchedName(p uintptr, placeholder string) string {
	if ix, err := selfIndex(); err == nil {
		if _, err := ix.Variables(nil); err == nil {
			if name, ok := ix.nameOf(p); ok {
				return name
			}
		}
	}
	if name, ok := symbolAt(p); ok {
		return name
	}
	return placeholder
}

var (
	symbolsOnce sync.Once
	symbols     map[uintptr]string
)

func symbolAt(p uintptr) (string, bool) {
	symbolsOnce.Do(func() {
		symbols = map[uintptr]string{}
		exe, err := os.Executable()
		if err != nil {
			return
		}
		f, err := elf.Open(exe)
		if err != nil {
			return
		}
		defer f.Close()
		syms, err := f.Symbols()
		if err != nil {
			return
		}
		anchor := reflect.TypeOf(config{}).PkgPath() + ".typeAnchor"
		var slide uintptr
		for _, s := range syms {
			if s.Name == anchor {
				slide = uintptr(unsafe.Pointer(&typeAnchor)) - uintptr(s.Value)
			}
		}
		for _, s := range syms {
			if elf.ST_TYPE(s.Info) == elf.STT_OBJECT {
				symbols[uintptr(s.Value)+slide] = s.Name
			}
		}
	})
	name, ok := symbols[p]
	return name, ok
}

// unset reports whether a variable holds its zero value, or points to one
// (time.Local points to time.localLoc, which a Once fills on first use).
func unset(n *node) bool {
	return n.zero || (n.kind == ptrNode && len(n.kids) == 1 && n.kids[0].zero)
}

// Report is what changed between two snapshots.
type Report struct {
	// Changes lists every change, grouped by variable in name order, with
	// the process state (environment, working directory) last.
	Changes []Change
	// Variables and Packages count what was read.
	Variables, Packages int
	// Took is the time spent taking both snapshots and comparing them.
	Took time.Duration
	// Omitted counts, per variable, the changes beyond the
	// maxChangesPerVariable listed in Changes.
	Omitted map[string]int
	// NotJudged lists the values that could not be read consistently (a
	// map another goroutine kept writing while it was read), by path with
	// the reason. They are neither reported as changed nor as unchanged.
	NotJudged []string
	// Concurrent says what else ran while the block did (other checks,
	// tests running in parallel), whose changes cannot be told apart from
	// the block's. See the package documentation.
	Concurrent []string
}

// compare returns the changes from before to after. Both must come from
// takeSnapshot with the same options.
func compare(before, after *snapshot) *Report {
	start := time.Now()
	cfg := after.cfg
	r := &Report{Variables: len(after.vars), Packages: after.packages}
	// The two snapshots list the same variables in the same order unless
	// the scope's variables changed in between: look by position first.
	var old map[string]*captured
	prior := func(i int, name string) *captured {
		if i < len(before.vars) && before.vars[i].name == name {
			return &before.vars[i]
		}
		if old == nil {
			old = make(map[string]*captured, len(before.vars))
			for j := range before.vars {
				old[before.vars[j].name] = &before.vars[j]
			}
		}
		return old[name]
	}
	// A package-level sync.Once that fired: the package's variables that
	// went from their loaded value (zero, or what the binary's data gave
	// them) to another were initialised lazily under it.
	fired := map[string]bool{}
	type pair struct {
		v captured
		b *captured
	}
	var changed []pair
	for i, v := range after.vars {
		b := prior(i, v.name)
		if b == nil || same(b.state, v.state) {
			continue
		}
		if onceFired(b.state, v.state) {
			fired[v.pkg] = true
		}
		changed = append(changed, pair{v, b})
	}
	sort.SliceStable(changed, func(i, j int) bool { return changed[i].v.name < changed[j].v.name })
	for _, c := range changed {
		v, a := c.v, c.b.state
		if (fired[v.pkg] && (unset(a) || c.b.asLoaded)) || cfg.ignoredVariable(v.name, v.pkg) {
			continue
		}
		name := v.name
		if v.watched != 0 {
			name = watchedName(v.watched, v.name)
		}
		d := differ{variable: name, ignores: cfg.ignoredPaths(name), onceFired: fired[v.pkg]}
		d.diff(rootPath(name), a, v.state)
		r.Changes = append(r.Changes, d.out...)
		if d.omitted > 0 {
			if r.Omitted == nil {
				r.Omitted = map[string]int{}
			}
			r.Omitted[name] += d.omitted
		}
		r.NotJudged = append(r.NotJudged, d.notJudged...)
	}
	r.Changes = append(r.Changes, envChanges(cfg, before.env, after.env)...)
	if before.cwd != after.cwd && !cfg.ignored("working directory") {
		r.Changes = append(r.Changes, Change{Variable: "working directory", Path: "working directory", Kind: kindModified, Before: strconv.Quote(before.cwd), After: strconv.Quote(after.cwd)})
	}
	if !cfg.ignored(processSettingsName) {
		for _, c := range diffSettings(before.settings, after.settings) {
			if !cfg.ignored(c.Path) {
				r.Changes = append(r.Changes, c)
			}
		}
	}
	r.Took = before.took + after.took + time.Since(start)
	return r
}

func envChanges(cfg *config, beforeEnv, afterEnv []string) []Change {
	// The environment is compared as a list first: most often it is the
	// same, and a snapshot or a comparison that allocated for each of its
	// variables was recorded, allocation by allocation, while a parallel
	// test's check recorded stacks.
	if slices.Equal(beforeEnv, afterEnv) || cfg.ignored("environment") {
		return nil
	}
	before, after := envMap(beforeEnv), envMap(afterEnv)
	var keys []string
	for k, b := range before {
		if a, ok := after[k]; !ok || a != b {
			keys = append(keys, k)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []Change
	for _, k := range keys {
		b, hadB := before[k]
		a, hasA := after[k]
		key := "$" + k
		if cfg.ignored(key) {
			continue
		}
		c := Change{Variable: "environment", Path: "environment", Kind: kindModified, Key: key, Before: strconv.Quote(b), After: strconv.Quote(a)}
		switch {
		case !hadB && hasA:
			c.Kind = kindAdded
		case hadB && !hasA:
			c.Kind = kindRemoved
		default:
			c.Path = key
		}
		out = append(out, c)
	}
	return out
}

// envMap is an environment list (os.Environ) by name.
func envMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// maxLinesPerVariable caps the lines a report's String prints for one
// variable; the rest are counted.
const maxLinesPerVariable = 10

// String renders the report as a failure message: a headline, then one line
// per change, grouped by variable, each group capped at maxLinesPerVariable
// lines.
func (r *Report) String() string {
	if r == nil || len(r.Changes) == 0 {
		return "The block changed no package-level variable (" + strconv.Itoa(r.Variables) + " read), environment variable, working directory, os.Args or process setting (" + settingsNote + ")." + r.notes()
	}
	var groups []string
	lines := map[string][]Change{}
	for _, c := range r.Changes {
		if _, ok := lines[c.Variable]; !ok {
			groups = append(groups, c.Variable)
		}
		lines[c.Variable] = append(lines[c.Variable], c)
	}
	vars, process := 0, []string{}
	for _, g := range groups {
		switch g {
		case "environment", "working directory", "os.Args", processSettingsName:
			process = append(process, g)
		default:
			vars++
		}
	}
	var b strings.Builder
	b.WriteString("The block changed ")
	var what []string
	if vars > 0 {
		what = append(what, text.Plural(vars, "package-level variable"))
	}
	what = append(what, process...)
	b.WriteString(joinAnd(what))
	total := len(r.Changes)
	for _, n := range r.Omitted {
		total += n
	}
	b.WriteString(" (" + text.Plural(total, "change") + "):\n")
	for _, g := range groups {
		b.WriteString("\n")
		cs := lines[g]
		more := r.Omitted[g]
		for i, c := range cs {
			if i == maxLinesPerVariable && len(cs)+more > maxLinesPerVariable+1 {
				more += len(cs) - i
				break
			}
			b.WriteString("    " + c.String() + "\n")
		}
		if more > 0 {
			b.WriteString("    … and " + strconv.Itoa(more) + " more changes to " + g + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n") + r.notes()
}

// notes are the lines below a report's changes: what else ran, and what
// was not judged.
func (r *Report) notes() string {
	var b strings.Builder
	if len(r.Changes) > 0 && len(r.Concurrent) > 0 {
		b.WriteString("\n\nOther checks ran at the same time: a change may be theirs.\n")
		for _, c := range r.Concurrent {
			b.WriteString("    " + c + "\n")
		}
	}
	if len(r.NotJudged) > 0 {
		b.WriteString("\n\nNot judged (could not be read consistently):\n")
		for _, n := range r.NotJudged {
			b.WriteString("    " + n + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

func joinAnd(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// probe is a probes.probe that snapshots the state in scope before the block
// and compares it after.
type probe struct {
	cfg     *config
	before  *snapshot
	report  *Report
	company company
}

// kind registers the probe with the combined checks, where its two
// snapshots bracket every other probe's work.
var kind = func() probes.Kind {
	k := probes.NewKind(name, newProbe)
	k.Brackets = true
	return probes.Register(k)
}()

// newProbe returns a Probe reading what opts select. An invalid option is
// an error naming it.
func newProbe(opts ...Option) (*probe, error) {
	cfg, err := newConfig(opts)
	return &probe{cfg: cfg}, err
}

// Before takes the first snapshot.
func (p *probe) Before(r *probes.Run) error {
	p.report = nil
	var err error
	p.company, p.before, err = around(r, true, func() (*snapshot, error) { return take(p.cfg) }, nil)
	return err
}

// After takes the second snapshot and compares.
func (p *probe) After(r *probes.Run) error {
	if p.before == nil {
		return nil
	}
	var rep *Report
	changed := func(s *snapshot) bool {
		rep = compare(p.before, s)
		return len(rep.Changes) > 0
	}
	c, s, err := around(r, false, func() (*snapshot, error) { return take(p.cfg) }, changed)
	if err != nil {
		return err
	}
	if rep == nil {
		rep = compare(p.before, s)
	}
	p.company.add(c)
	p.report = rep
	p.report.Concurrent = p.company.describe()
	p.before = nil
	return nil
}

// Report is the result of the last run (a *Report), nil before one
// completed.
func (p *probe) Report() probes.Report { return probes.ReportOf((*section)(p.report)) }

// Find runs block once and reports the state it changed.
func Find(block func(), opts ...Option) (*Report, error) {
	return probes.Typed[*Report](probes.Find(kind, block, opts))
}
