package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/residue-go/residue/internal/record"
)

// event is one line of go test -json.
type event struct {
	Action      string
	Package     string
	ImportPath  string // build-output and build-fail
	Test        string
	Output      string
	Elapsed     float64
	FailedBuild string
}

// pkgResult is what go test said of one package.
type pkgResult struct {
	path    string
	action  string  // pass, fail or skip
	elapsed float64 // seconds
	failed  []string
	started []string       // top-level tests, in the order they started (again for -count)
	ended   map[string]int // how many times each top-level test passed, failed or was skipped
	// recorded counts the records each top-level test's audit wrote as it
	// ended (readRecords): a test whose output left its last line open has
	// go test's "--- PASS" on that line, which go test's reader of -v
	// output does not see, and no end event.
	recorded map[string]int
	output   map[string]*strings.Builder // by top-level test; "" for the package
	build    string                      // compiler output
	buildErr bool
	noTests  bool
}

func (p *pkgResult) out(test string) *strings.Builder {
	if p.output == nil {
		p.output = map[string]*strings.Builder{}
	}
	b := p.output[test]
	if b == nil {
		b = &strings.Builder{}
		p.output[test] = b
	}
	return b
}

// unfinished returns the top-level tests that started and never ended
// (by go test's output or by their records): the test binary stopped while
// they ran (a panic in a goroutine, os.Exit, -timeout).
func (p *pkgResult) unfinished() []string {
	var out []string
	runs := map[string]int{}
	for _, t := range p.started {
		runs[t]++
	}
	for _, t := range p.started {
		if runs[t] > max(p.ended[t], p.recorded[t]) && !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out
}

// runResult is what go test said of every package.
type runResult struct {
	builds map[string]*strings.Builder // compiler output by go test's build ID
	pkgs   map[string]*pkgResult
	order  []string
	err    error // go test could not be run
	// exitFailed is set when go test exited non-zero; its output says why
	// when no package does (a bad pattern, a go.mod it cannot use).
	exitFailed bool
}

func (r *runResult) pkg(path string) *pkgResult {
	p := r.pkgs[path]
	if p == nil {
		p = &pkgResult{path: path}
		r.pkgs[path] = p
		r.order = append(r.order, path)
	}
	return p
}

// progress shows how far go test is: one line rewritten in place on a
// terminal, else a plain line per finished package.
type progress struct {
	w        io.Writer
	terminal bool
	total    int
	start    time.Time

	mu      sync.Mutex
	done    int
	running []string
	shown   bool
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (p *progress) started(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running = append(p.running, path)
	p.draw()
}

func (p *progress) finished(r *pkgResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done++
	for i, x := range p.running {
		if x == r.path {
			p.running = append(p.running[:i], p.running[i+1:]...)
			break
		}
	}
	if !p.terminal {
		status := r.action
		switch {
		case r.buildErr:
			status = "build failed"
		case r.noTests:
			status = "no test files"
		}
		fmt.Fprintf(p.w, "residue: [%d/%d] %s %s (%.1fs)\n", p.done, p.total, r.path, status, r.elapsed)
		return
	}
	p.draw()
}

func (p *progress) draw() {
	if !p.terminal {
		return
	}
	cur := "building"
	if len(p.running) > 0 {
		cur = p.running[len(p.running)-1]
	}
	fmt.Fprintf(p.w, "\r\033[K[%d/%d] %5.1fs %s", p.done, p.total, time.Since(p.start).Seconds(), cur)
	p.shown = true
}

func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
}

func (p *progress) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// runTests runs go test -json with args and reads its events.
// Compiler and vet messages name the rewritten test files: unmap names the
// originals instead.
//
// A stop signal (signals, which run has been receiving since it started)
// is passed on to go test and the test binaries: see ownGroup and forward.
// One that came before go test started stops the run before it does.
func runTests(dir string, env, args []string, prog *progress, unmap func(string) string, signals <-chan os.Signal) *runResult {
	r := &runResult{pkgs: map[string]*pkgResult{}, builds: map[string]*strings.Builder{}}
	var stderr strings.Builder
	cmd := goCommand(dir, env, &stderr, append([]string{"test", "-json"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.err = err
		return r
	}
	// go test and its test binaries run in a group of their own: a stop
	// signal to residue (from the terminal, or kill) is passed on to all
	// of them; then residue waits for go test, reports what ran and
	// removes the overlay.
	select {
	case sig := <-signals:
		r.err = fmt.Errorf("stopped by %v before the tests ran", sig)
		return r
	default:
	}
	ownGroup(cmd)
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	exited := make(chan struct{})
	defer close(exited)
	go func() {
		for first := true; ; first = false {
			select {
			case <-signals:
				forward(cmd, first)
			case <-exited:
				return
			}
		}
	}()
	stop := make(chan struct{})
	if prog.terminal {
		go func() {
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					prog.tick()
				}
			}
		}()
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			e.Output = unmap(e.Output)
		} else {
			r.pkg("").out("").WriteString(sc.Text() + "\n")
			continue
		}
		r.handle(e, prog)
	}
	close(stop)
	werr := cmd.Wait()
	if s := strings.TrimSpace(unmap(stderr.String())); s != "" {
		// go test writes what stops it before any package runs (a bad
		// pattern, a go.mod it cannot read) to standard error.
		r.pkg("").out("").WriteString(s + "\n")
	}
	if werr != nil {
		if _, ok := werr.(*exec.ExitError); ok {
			r.exitFailed = true
		} else {
			r.err = werr
		}
	}
	return r
}

func (r *runResult) handle(e event, prog *progress) {
	switch e.Action {
	case "build-output":
		b := r.builds[e.ImportPath]
		if b == nil {
			b = &strings.Builder{}
			r.builds[e.ImportPath] = b
		}
		b.WriteString(e.Output)
		return
	case "build-fail":
		return
	}
	p := r.pkg(e.Package)
	top, _, _ := strings.Cut(e.Test, "/")
	switch {
	case e.Action == "start" && e.Test == "":
		prog.started(e.Package)
	case e.Action == "output":
		p.out(top).WriteString(e.Output)
		if e.Test == "" && strings.Contains(e.Output, "[no test files]") {
			p.noTests = true
		}
	case e.Test != "" && e.Test == top && e.Action == "run":
		p.started = append(p.started, e.Test)
	case e.Test != "" && e.Test == top && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		if p.ended == nil {
			p.ended = map[string]int{}
		}
		p.ended[e.Test]++
		if e.Action == "fail" {
			p.failed = append(p.failed, e.Test)
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		p.action, p.elapsed = e.Action, e.Elapsed
		if e.FailedBuild != "" {
			p.buildErr = true
			if b := r.builds[e.FailedBuild]; b != nil {
				p.build = b.String()
			}
		}
		prog.finished(p)
	}
}

// ranPackages returns the packages whose test binary ran to its end, all
// of its tests with it.
func (r *runResult) ranPackages() map[string]bool {
	out := map[string]bool{}
	for path, p := range r.pkgs {
		if path != "" && !p.buildErr && (p.action == "pass" || p.action == "fail" && len(p.unfinished()) == 0) {
			out[path] = true
		}
	}
	return out
}

// noteRecords counts, by package and test, the records the tests' audits
// wrote as they ended (pkgResult.recorded).
func (r *runResult) noteRecords(recs []record.Record) {
	for _, rec := range recs {
		if p := r.pkgs[rec.Package]; p != nil {
			if p.recorded == nil {
				p.recorded = map[string]int{}
			}
			p.recorded[rec.Test]++
		}
	}
}

// sortedPaths returns the packages in import-path order.
func (r *runResult) sortedPaths() []string {
	paths := append([]string(nil), r.order...)
	sort.Strings(paths)
	return paths
}
