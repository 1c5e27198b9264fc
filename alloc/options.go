package alloc

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/residue-go/residue/internal/probes"
)

// Option configures a measurement, a budget check, or the allocation probe
// of a combined check. Make one with the functions of this package.
type Option = probes.Setting[config]

// name is the probe's name in options and messages.
const name = "allocations"

type config struct {
	warmUps    int
	runs       int
	budgetFile string
	limits     []functionLimit
	budget     Figures // -1 where none is set
}

// option makes the options of this package.
var option = probes.Settings[config]{Probe: name, Pkg: "alloc"}

var errNegative = errors.New("must not be negative")

type functionLimit struct {
	function string
	objects  int64
}

// defaultBudgetFile is where budgets are kept, relative to the directory the
// test runs in (the package's directory under go test and ginkgo).
const defaultBudgetFile = "testdata/residue-budgets.json"

// tightenBelow is the fraction of a budget under which a figure is
// reported as room to tighten it.
const tightenBelow = 0.8

func newConfig(opts []Option) (config, error) {
	return probes.Configure(config{runs: 1, budgetFile: defaultBudgetFile, budget: Figures{-1, -1}}, opts)
}

// AtMost sets a budget of objects for the block's heap allocations: in a
// combined check (residue.Find, HaveSideEffects, CheckEverySpec), a block
// that allocates more is reported. A negative count is an error.
func AtMost(objects int) Option {
	return option.New("AtMost("+strconv.Itoa(objects)+")", func(c *config) error {
		if objects < 0 {
			return errNegative
		}
		c.budget.Objects = int64(objects)
		return nil
	})
}

// BytesAtMost sets a budget of bytes, as AtMost does for objects.
func BytesAtMost(bytes int64) Option {
	return option.New("BytesAtMost("+strconv.FormatInt(bytes, 10)+")", func(c *config) error {
		if bytes < 0 {
			return errNegative
		}
		c.budget.Bytes = bytes
		return nil
	})
}

// WarmUp runs the block n times, unmeasured, before each measured run, so
// that one-time work (a sync.Once, a lazily built table, a first map growth)
// is not counted and the sync.Pools the block draws from are warm: with a
// warm-up the figures are the steady state that testing.AllocsPerRun and go
// test -benchmem report. The warm-up runs on the measured run's goroutine,
// after the garbage collections that start each measurement (and empty every
// pool). The default is no warm-up: the block runs exactly once, with its
// pools empty. A negative n is an error.
func WarmUp(n int) Option {
	return option.New("WarmUp("+strconv.Itoa(n)+")", func(c *config) error {
		if n < 0 {
			return errNegative
		}
		c.warmUps = n
		return nil
	})
}

// Runs measures the block n times (at least once, the default). The
// measurement keeps the figures of every run; its Objects and Bytes are the
// largest seen, so a limit holds for every run. n below 1 is an error.
func Runs(n int) Option {
	return option.New("Runs("+strconv.Itoa(n)+")", func(c *config) error {
		if n < 1 {
			return fmt.Errorf("the block must be measured at least once")
		}
		c.runs = n
		return nil
	})
}

// BudgetFile sets the file budgets are read from and recorded to, instead of
// testdata/residue-budgets.json. An empty path is an error.
func BudgetFile(path string) Option {
	return option.New("BudgetFile("+strconv.Quote(path)+")", func(c *config) error {
		if path == "" {
			return fmt.Errorf("the budget file needs a path")
		}
		c.budgetFile = path
		return nil
	})
}

// AtMostIn limits the objects the block allocates in function or in what it
// calls: function is a fully qualified name ("strings.Repeat",
// "example.com/parse.(*Decoder).Next"), or a prefix when it ends with "..."
// ("encoding/json..."). The runtime records allocations with their stacks,
// not their types, so this is residue's finer limit: per function rather
// than per type. The outcome is in Measurement.Limits. An empty function or
// a negative count is an error.
func AtMostIn(function string, objects int) Option {
	return option.New(fmt.Sprintf("AtMostIn(%q, %d)", function, objects), func(c *config) error {
		switch {
		case function == "" || function == "...":
			return fmt.Errorf("the function needs a name")
		case objects < 0:
			return errNegative
		}
		c.limits = append(c.limits, functionLimit{function, int64(objects)})
		return nil
	})
}
