package alloc

// Option configures a measurement or a budget check.
type Option func(*config)

type config struct {
	warmUps      int
	runs         int
	budgetFile   string
	tightenBelow float64
	limits       []functionLimit
}

type functionLimit struct {
	function string
	objects  int64
}

// DefaultBudgetFile is where budgets are kept, relative to the directory the
// test runs in (the package's directory under go test and ginkgo).
const DefaultBudgetFile = "testdata/residue-budgets.json"

// DefaultTightenBelow is the fraction of a budget under which a figure is
// reported as room to tighten it.
const DefaultTightenBelow = 0.8

func newConfig(opts []Option) config {
	c := config{runs: 1, budgetFile: DefaultBudgetFile, tightenBelow: DefaultTightenBelow}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	return c
}

// WarmUp runs the block n times, unmeasured, before the measured runs, so
// that one-time work (a sync.Once, a lazily built table, a first map growth)
// is not counted. The default is no warm-up: the block runs exactly once.
func WarmUp(n int) Option {
	return func(c *config) { c.warmUps = max(n, 0) }
}

// Runs measures the block n times (at least once, the default). The
// measurement keeps the figures of every run; its Objects and Bytes are the
// largest seen, so a limit holds for every run.
func Runs(n int) Option {
	return func(c *config) { c.runs = max(n, 1) }
}

// BudgetFile sets the file budgets are read from and recorded to, instead of
// DefaultBudgetFile.
func BudgetFile(path string) Option {
	return func(c *config) { c.budgetFile = path }
}

// TightenBelow sets the fraction of a budget under which a figure is
// reported as room to tighten the budget (DefaultTightenBelow). 0 turns the
// report off.
func TightenBelow(fraction float64) Option {
	return func(c *config) { c.tightenBelow = fraction }
}

// AtMostIn limits the objects the block allocates in function or in what it
// calls: function is a fully qualified name ("strings.Repeat",
// "example.com/parse.(*Decoder).Next"), or a prefix when it ends with "..."
// ("encoding/json..."). The runtime records allocations with their stacks,
// not their types, so this is residue's finer limit: per function rather
// than per type. The outcome is in Measurement.Limits.
func AtMostIn(function string, objects int) Option {
	return func(c *config) { c.limits = append(c.limits, functionLimit{function, int64(objects)}) }
}
