package leak

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/stack"
)

// Option configures the goroutine probe (LeakGoroutines, Find). Make one
// with the functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "goroutines"

type config struct {
	within   time.Duration
	ignores  []ignore
	idleHTTP bool // allow idle keep-alive connections' goroutines
}

type ignore struct {
	desc  string
	match func(*stack.Goroutine) bool
}

func newConfig(opts []Option) (config, error) {
	return probes.Configure(config{within: probes.DefaultWithin}, append(slices.Clip(processGoroutines), opts...))
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "leak"}

// Within sets the settle window: how long to wait, polling with backoff, for
// leftovers to go away before they are reported. A leftover the runtime
// proves stuck forever is reported without waiting. The default is
// 1s; 0 checks once, right after the block returns. A negative
// window is an error.
func Within(d time.Duration) Option {
	return option.Within(d, func(c *config, d time.Duration) { c.within = d })
}

// IgnoringTopFunction ignores goroutines whose innermost function is name.
// "pkg.fn..." matches every function with that prefix, and "pkg.fn [state]"
// also requires the goroutine's state to start with state, as in
// IgnoringTopFunction("net/http.(*persistConn).readLoop [select]").
func IgnoringTopFunction(name string) Option {
	fn, state := name, ""
	if i := strings.Index(name, " ["); i >= 0 && strings.HasSuffix(name, "]") {
		fn, state = name[:i], name[i+2:len(name)-1]
	}
	match := stack.MatchFunc(fn)
	return addIgnore("IgnoringTopFunction("+strconv.Quote(name)+")", func(g *stack.Goroutine) bool {
		return match(g.TopFunction()) && strings.HasPrefix(g.State, state)
	})
}

// IgnoringCreator ignores goroutines started by a go statement in function
// name ("pkg.fn..." matches a prefix).
func IgnoringCreator(name string) Option {
	match := stack.MatchFunc(name)
	return addIgnore("IgnoringCreator("+strconv.Quote(name)+")", func(g *stack.Goroutine) bool {
		return match(g.CreatedBy.Func)
	})
}

// IgnoringAnyFunction ignores goroutines with name anywhere in their stack
// ("pkg.fn..." matches a prefix).
func IgnoringAnyFunction(name string) Option {
	match := stack.MatchFunc(name)
	return addIgnore("IgnoringAnyFunction("+strconv.Quote(name)+")", func(g *stack.Goroutine) bool {
		for _, f := range g.Frames {
			if match(f.Func) {
				return true
			}
		}
		return false
	})
}

func addIgnore(desc string, match func(*stack.Goroutine) bool) Option {
	return option.New(desc, func(c *config) error {
		c.ignores = append(c.ignores, ignore{desc, match})
		return nil
	})
}

// processGoroutines are started lazily by the standard library on first use
// and live as long as the process: the block that happens to start one has
// not leaked it.
var processGoroutines = []Option{
	IgnoringTopFunction("os/signal.signal_recv"),
	IgnoringTopFunction("os/signal.loop"),
	IgnoringCreator("os/signal.Notify.func1..."),
	IgnoringTopFunction("runtime.ensureSigM..."),
}

func (c *config) ignored(g *stack.Goroutine) bool {
	g.ParseFrames()
	for _, ig := range c.ignores {
		if ig.match(g) {
			return true
		}
	}
	return false
}

// IgnoringIdleHTTPConns allows the reader and writer goroutines of the
// keep-alive connections an http.Transport keeps idle in its pool: the block
// read and closed every response on them, and the transport keeps them for
// reuse. A connection whose response body was never closed is not idle and
// is still reported. Without this option, the report names such goroutines
// and the ways to end them.
func IgnoringIdleHTTPConns() Option {
	return option.New("IgnoringIdleHTTPConns()", func(c *config) error {
		c.idleHTTP = true
		return nil
	})
}
