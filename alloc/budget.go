package alloc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/residue-go/residue/internal/env"
	"github.com/residue-go/residue/internal/text"
)

// outcome is how a measurement compares with its budget.
type outcome int

const (
	// budgetHolds: no figure is over its budget, and none well below it.
	budgetHolds outcome = iota
	// budgetExceeded: the objects or the bytes are over the budget.
	budgetExceeded
	// budgetLoose: within the budget, but objects or bytes are below
	// tightenBelow of it, so the budget could be tightened.
	budgetLoose
	// budgetMissing: the file has no budget of that name.
	budgetMissing
	// budgetRecorded: the check ran with RESIDUE_UPDATE_BUDGETS=1 and wrote the
	// figures.
	budgetRecorded
)

// Verdict is the outcome of one budget check.
type Verdict struct {
	// Failed is set when the verdict fails the check: over the budget, no
	// budget at all, or room to tighten it with RESIDUE_STRICT_BUDGETS=1.
	Failed bool
	// Note is what a passing check should still tell: that the budget can
	// be tightened, or that it was recorded; "" when there is nothing to
	// tell or the check fails.
	Note string

	name string
	file string // the budget file, as given
	// old is the budget, valid unless outcome is BudgetMissing (or
	// budgetRecorded with HadBudget false).
	old       Figures
	hadBudget bool
	new       Figures // the measured figures: the most of the measured runs
	outcome   outcome
	sites     []Site // where New was allocated
}

// decide sets Failed and Note from the outcome, strict when
// RESIDUE_STRICT_BUDGETS=1.
func (v *Verdict) decide() *Verdict {
	v.Failed = v.failed(os.Getenv(env.StrictBudgets) == "1")
	if !v.Failed && (v.outcome == budgetLoose || v.outcome == budgetRecorded) {
		v.Note = v.String()
	}
	return v
}

func (v *Verdict) failed(strict bool) bool {
	switch v.outcome {
	case budgetExceeded, budgetMissing:
		return true
	case budgetLoose:
		return strict
	}
	return false
}

// String describes the verdict: a headline, the old and new figures, and
// for a figure over its budget the sites of the new one.
func (v *Verdict) String() string {
	var b strings.Builder
	q := fmt.Sprintf("%q", v.name)
	switch v.outcome {
	case budgetHolds:
		fmt.Fprintf(&b, "allocation budget %s holds: %s within %s (%s)", q, v.new, v.old, v.file)
	case budgetExceeded:
		fmt.Fprintf(&b, "allocation budget %s exceeded (%s)\n", q, v.file)
		b.WriteString(v.changes())
		if len(v.sites) > 0 {
			fmt.Fprintf(&b, "\n  where the %s were allocated:\n%s", text.Plural(v.new.Objects, "object", "objects"), formatSites(v.sites))
		}
		fmt.Fprintf(&b, "\n  If the new figures are intended, record them: %s=1 go test", env.UpdateBudgets)
	case budgetLoose:
		fmt.Fprintf(&b, "allocation budget %s can be tightened: the block now allocates less than %.0f%% of it (%s)\n",
			q, tightenBelow*100, v.file)
		b.WriteString(v.changes())
		fmt.Fprintf(&b, "\n  Record the new figures: %s=1 go test", env.UpdateBudgets)
		if v.Failed {
			fmt.Fprintf(&b, "\n  (a failure because %s=1)", env.StrictBudgets)
		}
	case budgetMissing:
		fmt.Fprintf(&b, "no allocation budget %s in %s; the block allocated %s\n  Record it: %s=1 go test",
			q, v.file, v.new, env.UpdateBudgets)
	case budgetRecorded:
		if v.hadBudget {
			fmt.Fprintf(&b, "allocation budget %s recorded (%s)\n%s", q, v.file, v.changes())
		} else {
			fmt.Fprintf(&b, "allocation budget %s recorded (%s): %s", q, v.file, v.new)
		}
	}
	return b.String()
}

// changes returns the two lines "objects: old → new (±d)" and "bytes: ...".
func (v *Verdict) changes() string {
	do, db := v.new.Objects-v.old.Objects, v.new.Bytes-v.old.Bytes
	return fmt.Sprintf("    objects: %d → %d (%s)\n    bytes:   %s → %s (%s)",
		v.old.Objects, v.new.Objects, signed(do, strconvInt), text.Bytes(v.old.Bytes), text.Bytes(v.new.Bytes), signed(db, text.Bytes))
}

func strconvInt(n int64) string { return fmt.Sprint(n) }

func signed(n int64, format func(int64) string) string {
	switch {
	case n > 0:
		return "+" + format(n)
	case n < 0:
		return "-" + format(-n)
	}
	return "±0"
}

// CheckBudget compares m with the budget called name in the budget file
// (testdata/residue-budgets.json unless BudgetFile is given). With RESIDUE_UPDATE_BUDGETS=1 it
// records m's figures as the budget instead, creating the file and its
// directory when needed, and returns a budgetRecorded verdict.
//
// The file is JSON, one budget per line, names sorted, so that a change
// reads well in a diff:
//
//	{
//	  "parse-header": {"objects": 3, "bytes": 128},
//	  "render-page": {"objects": 41, "bytes": 5376}
//	}
//
// The error is set only when the file cannot be read or written.
func CheckBudget(name string, m *Measurement, opts ...Option) (*Verdict, error) {
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, fmt.Errorf("CheckBudget(\"\"): a budget needs a name")
	}
	if m == nil {
		return nil, fmt.Errorf("CheckBudget(%q): no measurement to check", name)
	}
	v := &Verdict{name: name, file: c.budgetFile, new: m.Figures, sites: m.Sites}
	if os.Getenv(env.UpdateBudgets) == "1" {
		err := updateBudgets(c.budgetFile, func(b map[string]Figures) {
			v.old, v.hadBudget = b[name]
			b[name] = m.Figures
		})
		v.outcome = budgetRecorded
		return v.decide(), err
	}
	budgets, err := readBudgets(c.budgetFile)
	if err != nil {
		return nil, err
	}
	v.old, v.hadBudget = budgets[name]
	switch {
	case !v.hadBudget:
		v.outcome = budgetMissing
	case v.new.Objects > v.old.Objects || v.new.Bytes > v.old.Bytes:
		v.outcome = budgetExceeded
	case below(v.new.Objects, v.old.Objects, tightenBelow) || below(v.new.Bytes, v.old.Bytes, tightenBelow):
		v.outcome = budgetLoose
	default:
		v.outcome = budgetHolds
	}
	return v.decide(), nil
}

func below(n, budget int64, fraction float64) bool {
	return float64(n) < fraction*float64(budget)
}

// readBudgets returns the budgets of a budget file by name; none when the
// file does not exist.
func readBudgets(path string) (map[string]Figures, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Figures{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading allocation budgets: %w", err)
	}
	var raw map[string]struct {
		Objects *int64 `json:"objects"`
		Bytes   *int64 `json:"bytes"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("reading allocation budgets from %s: %w", path, err)
	}
	out := make(map[string]Figures, len(raw))
	for name, b := range raw {
		switch {
		case b.Objects == nil || b.Bytes == nil:
			return nil, fmt.Errorf("reading allocation budgets from %s: budget %q needs both \"objects\" and \"bytes\"", path, name)
		case *b.Objects < 0 || *b.Bytes < 0:
			return nil, fmt.Errorf("reading allocation budgets from %s: budget %q has a negative figure", path, name)
		}
		out[name] = Figures{Objects: *b.Objects, Bytes: *b.Bytes}
	}
	return out, nil
}

// writeBudgets writes budgets to path in the budget file format (see
// CheckBudget), creating its directory when needed.
func writeBudgets(path string, budgets map[string]Figures) error {
	names := make([]string, 0, len(budgets))
	for n := range budgets {
		names = append(names, n)
	}
	slices.Sort(names)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, n := range names {
		q, _ := json.Marshal(n)
		fmt.Fprintf(&b, "  %s: {\"objects\": %d, \"bytes\": %d}", q, budgets[n].Objects, budgets[n].Bytes)
		if i < len(names)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing allocation budgets: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("writing allocation budgets: %w", err)
	}
	_, err = tmp.Write(b.Bytes())
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing allocation budgets: %w", err)
	}
	return nil
}

// budgetFiles serialises updates within the process; lockDir does so
// across processes (parallel test processes of one package share the file).
var budgetFiles sync.Mutex

func updateBudgets(path string, change func(map[string]Figures)) error {
	budgetFiles.Lock()
	defer budgetFiles.Unlock()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing allocation budgets: %w", err)
	}
	unlock, err := lockDir(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("writing allocation budgets: %w", err)
	}
	defer unlock()
	budgets, err := readBudgets(path)
	if err != nil {
		return err
	}
	change(budgets)
	return writeBudgets(path, budgets)
}
