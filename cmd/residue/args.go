package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// options are the command's own flags and what goes through to go test.
type options struct {
	json           bool
	baseline       string
	updateBaseline bool
	residueDir     string
	keep           bool
	globals        string // all, module or off
	ignoreGlobals  []string
	within         string // the settle window, as given; "" for the probes' default
	files          bool   // run the files probe too
	filtered       bool   // -run, -skip, -failfast or a flag of the test binaries': not every test of a package may run
	goOutput       bool   // -bench, -list, -cover…, -shuffle: show what go test prints of each package
	listing        bool   // -list: the tests are listed, not run
	verbose        bool
	dir            string // -C

	goFlags  []string // go test flags, as given, but -ldflags, -json and -v
	ldflags  string   // the user's -ldflags, merged with -w=0
	count    bool     // the user gave -count
	vet      bool     // the user gave -vet
	patterns []string
	// binaryFlags are the flags after the packages that go test does not
	// know: the test binary's, as go test passes them.
	binaryFlags []string
	testArgs    []string // after -args
}

// valueFlags are the go test and build flags that take a value in the next
// argument when not written as -flag=value.
var valueFlags = map[string]bool{
	"asmflags": true, "bench": true, "benchtime": true, "blockprofile": true, "blockprofilerate": true,
	"C": true, "compiler": true, "count": true, "covermode": true, "coverpkg": true, "coverprofile": true,
	"cpu": true, "cpuprofile": true, "exec": true, "fuzz": true, "fuzzminimizetime": true, "fuzztime": true,
	"gccgoflags": true, "gcflags": true, "installsuffix": true, "ldflags": true, "list": true,
	"memprofile": true, "memprofilerate": true, "mod": true, "modfile": true, "mutexprofile": true,
	"mutexprofilefraction": true, "o": true, "outputdir": true, "overlay": true, "p": true, "parallel": true,
	"pgo": true, "pkgdir": true, "run": true, "shuffle": true, "skip": true, "tags": true, "timeout": true,
	"toolexec": true, "trace": true, "vet": true, "reuse": true, "artifacts": true, "buildmode": true,
}

// boolFlags are the go test and build flags that take no value.
var boolFlags = map[string]bool{
	"a": true, "asan": true, "benchmem": true, "buildvcs": true, "cover": true, "failfast": true,
	"fullpath": true, "json": true, "linkshared": true, "modcacherw": true, "msan": true, "n": true,
	"race": true, "short": true, "trimpath": true, "v": true, "work": true, "x": true,
}

// refused are go test flags the command sets itself.
var refused = map[string]string{
	"overlay": "residue test builds with an overlay of its own",
	"modfile": "residue test builds with a go.mod of its own (a copy of the module's, with residue added)",
	"mod":     "residue test builds with -mod=mod on a copy of go.mod",
	"c":       "residue test runs the tests",
	"o":       "residue test runs the tests",
}

const usage = `usage: residue test [-json] [-baseline file [-update-baseline]] [-globals all|module|off] [-ignore-global name]... [-within d] [-files] [-residue-dir dir] [go test flags] [packages] [-args ...]

Runs go test on the packages and audits every top-level test and every
Ginkgo spec on its own: goroutines left running, file descriptors and
sockets left open, child processes left running or unwaited, globals
changed, and with -files files left behind. The module's files are not changed: the
hook goes in through a build overlay and a copy of go.mod.

  -json             write one JSON object per test to standard output (docs/audit.md)
  -baseline file    findings accepted: fail only on findings not in it
  -update-baseline  write every finding of this run to the baseline file
  -globals scope    which globals to compare around each test: all (every
                    package in the test binary, the default), module (the
                    module's own packages and the process state), or off
  -ignore-global name
                    leave a variable out of the comparison (repeatable): a
                    variable (example.com/app.cache), a part of one
                    (example.com/app.pool.now), a package pattern
                    (example.com/app/...) or an environment variable ($HOME)
  -within d         how long a test's goroutines, descriptors, processes and
                    files may take to go away after it ends before they are
                    findings (default 1s): shorter is faster, and reports
                    what was still on its way out; the windows count
                    toward go test's -timeout
  -files            also report files and directories a test left in the
                    temp directory or its working directory
  -residue-dir dir  the residue module to build the hook from (default: the
                    command's own source, else its version from the module proxy)
  -keep-overlay     keep the overlay and go.mod copy, and print where

Every other flag goes to go test (-run, -race, -count, -tags, -timeout, -p, -v…).
`

// parseArgs reads the arguments after "test".
func parseArgs(args []string) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("residue test", flag.ContinueOnError)
	// -h: run prints the usage; a bad flag: run prints the error.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.BoolVar(&o.json, "json", false, "")
	fs.StringVar(&o.baseline, "baseline", "", "")
	fs.BoolVar(&o.updateBaseline, "update-baseline", false, "")
	fs.StringVar(&o.residueDir, "residue-dir", "", "")
	fs.BoolVar(&o.keep, "keep-overlay", false, "")
	fs.StringVar(&o.globals, "globals", "all", "")
	fs.Func("ignore-global", "", func(v string) error {
		if strings.TrimSpace(v) == "" || strings.ContainsAny(v, "\n\r") {
			return errors.New("want a variable, a part of one, a package pattern or $NAME")
		}
		o.ignoreGlobals = append(o.ignoreGlobals, v)
		return nil
	})
	fs.StringVar(&o.within, "within", "", "")
	fs.BoolVar(&o.files, "files", false, "")
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-args" || a == "--args" {
			o.testArgs = args[i+1:]
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			o.patterns = append(o.patterns, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil {
			// One of ours: let the flag package read it and its value,
			// the next argument unless given with = or a bool flag.
			n := 1
			if b, ok := f.Value.(interface{ IsBoolFlag() bool }); !hasValue && !(ok && b.IsBoolFlag()) {
				n = 2
			}
			if i+n > len(args) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			if err := fs.Parse(args[i : i+n]); err != nil {
				return nil, err
			}
			i += n - 1
			continue
		}
		if name == "h" || name == "help" {
			fs.Usage()
			return nil, flag.ErrHelp
		}
		if why, ok := refused[name]; ok {
			return nil, fmt.Errorf("flag -%s: %s", name, why)
		}
		if len(o.patterns) > 0 && !valueFlags[name] && !boolFlags[name] {
			// After the packages, a flag go test does not know is the test
			// binary's (-ginkgo.focus=x), with the argument after it
			// when it is written apart (-ginkgo.focus x), as go test has it.
			o.binaryFlags = append(o.binaryFlags, a)
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
				o.binaryFlags = append(o.binaryFlags, args[i])
			}
			continue
		}
		if valueFlags[name] && !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("flag %s needs a value", a)
			}
			i++
			value, hasValue = args[i], true
		}
		switch name {
		case "C":
			o.dir = value
			continue
		case "ldflags":
			o.ldflags = value
			continue
		case "v":
			o.verbose = !hasValue || value == "true"
			continue
		case "count":
			o.count = true
		case "run", "skip", "failfast":
			o.filtered = true
		case "bench", "list", "cover", "coverprofile", "covermode", "coverpkg", "shuffle":
			// Flags whose point is what go test prints.
			o.goOutput = true
			o.listing = o.listing || name == "list"
		case "vet":
			o.vet = true
		}
		if hasValue {
			o.goFlags = append(o.goFlags, "-"+name+"="+value)
		} else {
			o.goFlags = append(o.goFlags, "-"+name)
		}
	}
	switch o.globals {
	case "all", "module", "off":
	default:
		return nil, fmt.Errorf("-globals %s: want all, module or off", o.globals)
	}
	if o.globals == "off" && len(o.ignoreGlobals) > 0 {
		return nil, fmt.Errorf("-ignore-global %s: -globals off compares no globals to leave out", o.ignoreGlobals[0])
	}
	if o.within != "" {
		if d, err := time.ParseDuration(o.within); err != nil || d < 0 {
			return nil, fmt.Errorf("-within %s: want a duration of zero or more, such as 250ms or 2s", o.within)
		}
	}
	// A flag of the test binaries' may leave tests out too
	// (-ginkgo.focus, -ginkgo.label-filter): a baseline's entries are then
	// kept, not taken for stale.
	o.filtered = o.filtered || len(o.binaryFlags) > 0 || len(o.testArgs) > 0
	if o.updateBaseline && o.baseline == "" {
		o.baseline = "residue-baseline.json"
	}
	if len(o.patterns) == 0 {
		o.patterns = []string{"."}
	}
	return o, nil
}

// buildFlags are the flags of goFlags that go list must see too, so that it
// lists the files go test builds.
func (o *options) buildFlags() []string {
	var out []string
	for _, f := range o.goFlags {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		switch name {
		case "tags", "race", "msan", "asan", "compiler", "gcflags", "pgo", "buildvcs", "trimpath", "installsuffix", "pkgdir", "toolexec":
			out = append(out, f)
		}
	}
	return out
}

// ownGcflags is the -gcflags the command adds unless the user gives one
// (on the command line or in GOFLAGS, whose value it would replace): the
// compiler then writes no debug info of its own. The linker still writes
// what the globals probe reads, the package-level variables and their
// types, and links a test binary in about the time it takes without debug
// info at all, where the compiler's (the functions' variables and lines)
// makes the link up to half as long again. The first run builds the
// standard library and the module's dependencies once more, for the cache.
func (o *options) ownGcflags(goflags string) []string {
	for _, f := range slices.Concat(o.goFlags, strings.Fields(goflags)) {
		if name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "="); name == "gcflags" {
			return nil
		}
	}
	return []string{"-gcflags=all=-dwarf=false"}
}

// mergedLdflags returns the user's -ldflags (from the command line, else
// from GOFLAGS) with -w=0 last, so that DWARF is kept whatever came before,
// and -compressdwarf=false unless the user set it: the linker then writes
// the debug info as it is, which links a test binary in about half the time
// that compressing it takes.
func (o *options) mergedLdflags(goflags string) string {
	user := o.ldflags
	if user == "" {
		for _, f := range strings.Fields(goflags) {
			if v, ok := strings.CutPrefix(strings.TrimLeft(f, "-"), "ldflags="); ok {
				user = v
			}
		}
	}
	own := "-w=0"
	if !strings.Contains(user, "compressdwarf") {
		own += " -compressdwarf=false"
	}
	return strings.TrimSpace(user + " " + own)
}
