package globals

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/residue-go/residue/internal/probes"
)

// Option configures what a snapshot reads. Make one with the functions of
// this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "globals"

type config struct {
	watching []watched
	packages []string // InPackages patterns; nil means defaultScope
	ignoring []string
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "globals"}

type watched struct {
	name string
	ptr  reflect.Value // a non-nil pointer
}

func newConfig(opts []Option) (*config, error) {
	c, err := probes.Configure(config{}, opts)
	return &c, err
}

// quoted shows arguments as the call that made an option: "a", "b".
func quoted(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	return strings.Join(q, ", ")
}

// usesDebugInfo reports whether the configuration needs DWARF: every
// configuration does, except one that only watches explicit variables.
func (c *config) usesDebugInfo() bool {
	return len(c.watching) == 0 || c.packages != nil
}

// Watching adds explicit variables to watch, given by pointer:
// Watching(&cfg, &registry). It needs no debug info. Used alone, only these
// variables (and the process state: environment, working directory,
// os.Args) are read; together with InPackages, both are.
func Watching(ptrs ...any) Option {
	return option.New(fmt.Sprintf("Watching(%d variables)", len(ptrs)), func(c *config) error {
		if len(ptrs) == 0 {
			return fmt.Errorf("no variable given")
		}
		for i, p := range ptrs {
			v := reflect.ValueOf(p)
			if v.Kind() != reflect.Pointer || v.IsNil() {
				return fmt.Errorf("expects non-nil pointers to variables, got %T as argument %d", p, i+1)
			}
			c.watching = append(c.watching, watched{ptr: v})
		}
		return nil
	})
}

// InPackages replaces the default scope with the packages matching the
// patterns, which use the go command's syntax: "net/http" is that package,
// "example.com/app/..." is example.com/app and every package below it. It
// needs debug info.
func InPackages(patterns ...string) Option {
	return option.New("InPackages("+quoted(patterns)+")", func(c *config) error {
		if len(patterns) == 0 {
			return fmt.Errorf("no package pattern given")
		}
		for _, p := range patterns {
			if p == "" || strings.ContainsAny(p, " \t\n") {
				return fmt.Errorf("%q is not a package pattern", p)
			}
		}
		if c.packages == nil {
			c.packages = []string{}
		}
		c.packages = append(c.packages, patterns...)
		return nil
	})
}

// Ignoring leaves out changes under the given names: a variable
// ("net/http.DefaultServeMux"), a path below one
// ("example.com/app.Config.Timeout"), a package pattern with "..."
// ("example.com/app/..."), an environment variable ("$HOME"), or
// "environment", "working directory", "os.Args", a process setting
// ("GOMAXPROCS", "umask"…) or "process settings" for all of them.
func Ignoring(names ...string) Option {
	return option.New("Ignoring("+quoted(names)+")", func(c *config) error {
		if len(names) == 0 || slices.Contains(names, "") {
			return fmt.Errorf("an empty name ignores nothing")
		}
		c.ignoring = append(c.ignoring, names...)
		return nil
	})
}

// ignoredVariable reports whether Ignoring leaves out the whole variable:
// by its name or by a package pattern.
func (c *config) ignoredVariable(variable, pkg string) bool {
	for _, n := range c.ignoring {
		if n == variable || (strings.Contains(n, "...") && pkg != "" && matchPattern(n)(pkg)) {
			return true
		}
	}
	return false
}

// ignoredPaths returns the paths below variable that Ignoring names, in
// full, to be compared with changes step by step.
func (c *config) ignoredPaths(variable string) []string {
	var out []string
	for _, n := range c.ignoring {
		if len(n) > len(variable) && strings.HasPrefix(n, variable) && (n[len(variable)] == '.' || n[len(variable)] == '[') {
			out = append(out, n)
		}
	}
	return out
}

// ignored reports whether Ignoring names one of the process's states
// ("environment", "working directory") or an environment variable
// ("$HOME").
func (c *config) ignored(name string) bool {
	return slices.Contains(c.ignoring, name)
}

// matchPattern returns a matcher for one go-list style package pattern.
func matchPattern(pattern string) func(string) bool {
	if !strings.Contains(pattern, "...") {
		return func(p string) bool { return p == pattern }
	}
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\.\.\.`, `.*`)
	if strings.HasSuffix(re, `/.*`) {
		re = strings.TrimSuffix(re, `/.*`) + `(/.*)?`
	}
	rx := regexp.MustCompile("^" + re + "$")
	return rx.MatchString
}

// inPatterns returns a matcher for any of the patterns.
// matchAll returns an error naming each pattern that matches none of
// pkgs: a misspelt package would otherwise check nothing, and pass.
func matchAll(patterns, pkgs []string) error {
	var none []string
	for _, p := range patterns {
		if !slices.ContainsFunc(pkgs, matchPattern(p)) {
			none = append(none, strconv.Quote(p))
		}
	}
	if len(none) > 0 {
		return fmt.Errorf("globals.InPackages: no package of this binary matches %s (its package-level variables would go unchecked)", strings.Join(none, ", "))
	}
	return nil
}

func inPatterns(patterns []string) func(string) bool {
	ms := make([]func(string) bool, len(patterns))
	for i, p := range patterns {
		ms[i] = matchPattern(p)
	}
	return func(p string) bool {
		for _, m := range ms {
			if m(p) {
				return true
			}
		}
		return false
	}
}

// residueModule is this module's path; its own packages keep bookkeeping
// that changes during every run, and are never read by default.
var residueModule = strings.TrimSuffix(reflect.TypeOf(config{}).PkgPath(), "/globals")

// defaultScope reports whether package pkg is read when no InPackages option
// is given. Every package is, except those whose variables are the
// machinery of the runtime and of tests rather than program state: the
// runtime, reflect, sync, unsafe, syscall (the environment is reported
// separately), weak, unique, internal and vendored packages, the testing
// packages, Ginkgo, Gomega, goleak and residue itself (its test packages and
// examples excepted). The unicode package's tables are left out too: they
// are constant data that Go cannot declare const, and reading them is half
// the cost of a default-scope snapshot. The list, with the reason for each
// entry, is outOfScope in rules.go.
func defaultScope(pkg string) bool {
	if pkg == "" || strings.Contains(pkg, "..") {
		return false
	}
	scopeOnce.Do(func() {
		patterns := make([]string, len(outOfScope))
		for i, o := range outOfScope {
			patterns[i] = o.pattern
		}
		excluded = inPatterns(patterns)
	})
	if excluded(pkg) {
		return false
	}
	if pkg == "main" && testing.Testing() {
		// The main package of a test binary is the one go test writes: its
		// tables of tests, benchmarks and examples (the package under test,
		// a command's main package among them, keeps its import path).
		return false
	}
	if pkg == residueModule || strings.HasPrefix(pkg, residueModule+"/") {
		// Bookkeeping that changes during every run; its tests and
		// examples are user code.
		return strings.HasSuffix(pkg, "_test") || strings.HasPrefix(pkg, residueModule+"/examples/")
	}
	return true
}

var (
	scopeOnce sync.Once
	excluded  func(string) bool
)
