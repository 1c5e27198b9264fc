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

	"github.com/residue-go/residue/internal/text"
)

// UpdateEnv names the environment variable that switches budget checks to
// recording: with RESIDUE_UPDATE_BUDGETS=1, CheckBudget writes each block's
// current figures to the budget file and passes.
const UpdateEnv = "RESIDUE_UPDATE_BUDGETS"

// StrictEnv names the environment variable that turns room to tighten a
// budget into a failure: with RESIDUE_STRICT_BUDGETS=1, a figure below
// TightenBelow of its budget fails the check, so budgets follow
// improvements down.
const StrictEnv = "RESIDUE_STRICT_BUDGETS"

// Outcome is how a measurement compares with its budget.
type Outcome int

const (
	// BudgetHolds: no figure is over its budget, and none well below it.
	BudgetHolds Outcome = iota
	// BudgetExceeded: the objects or the bytes are over the budget.
	BudgetExceeded
	// BudgetLoose: within the budget, but objects or bytes are below
	// TightenBelow of it, so the budget could be tightened.
	BudgetLoose
	// BudgetMissing: the file has no budget of that name.
	BudgetMissing
	// BudgetRecorded: the check ran with UpdateEnv set and wrote the
	// figures.
	BudgetRecorded
)

// Verdict is the outcome of one budget check.
type Verdict struct {
	Name string
	File string // the budget file, as given
	// Old is the budget, valid unless Outcome is BudgetMissing (or
	// BudgetRecorded with HadBudget false).
	Old       Figures
	HadBudget bool
	New       Figures // the measured figures: the most of the measured runs
	Outcome   Outcome
	Sites     []Site // where New was allocated
	// TightenBelow is the fraction under which New is BudgetLoose.
	TightenBelow float64
}

// Failed reports whether the verdict fails the check: over the budget, no
// budget at all, or, when strict, room to tighten it.
func (v *Verdict) Failed(strict bool) bool {
	switch v.Outcome {
	case BudgetExceeded, BudgetMissing:
		return true
	case BudgetLoose:
		return strict
	}
	return false
}

// String describes the verdict: a headline, the old and new figures, and
// for a figure over its budget the sites of the new one.
func (v *Verdict) String() string {
	var b strings.Builder
	q := fmt.Sprintf("%q", v.Name)
	switch v.Outcome {
	case BudgetHolds:
		fmt.Fprintf(&b, "allocation budget %s holds: %s within %s (%s)", q, v.New, v.Old, v.File)
	case BudgetExceeded:
		fmt.Fprintf(&b, "allocation budget %s exceeded (%s)\n", q, v.File)
		b.WriteString(v.changes())
		if len(v.Sites) > 0 {
			fmt.Fprintf(&b, "\n  where the %s were allocated:\n%s", text.Plural(v.New.Objects, "object", "objects"), FormatSites(v.Sites))
		}
		fmt.Fprintf(&b, "\n  If the new figures are intended, record them: %s=1 go test", UpdateEnv)
	case BudgetLoose:
		fmt.Fprintf(&b, "allocation budget %s can be tightened: the block now allocates less than %.0f%% of it (%s)\n",
			q, v.TightenBelow*100, v.File)
		b.WriteString(v.changes())
		fmt.Fprintf(&b, "\n  Record the new figures: %s=1 go test", UpdateEnv)
	case BudgetMissing:
		fmt.Fprintf(&b, "no allocation budget %s in %s; the block allocated %s\n  Record it: %s=1 go test",
			q, v.File, v.New, UpdateEnv)
	case BudgetRecorded:
		if v.HadBudget {
			fmt.Fprintf(&b, "allocation budget %s recorded (%s)\n%s", q, v.File, v.changes())
		} else {
			fmt.Fprintf(&b, "allocation budget %s recorded (%s): %s", q, v.File, v.New)
		}
	}
	return b.String()
}

// changes returns the two lines "objects: old → new (±d)" and "bytes: ...".
func (v *Verdict) changes() string {
	do, db := v.New.Objects-v.Old.Objects, v.New.Bytes-v.Old.Bytes
	return fmt.Sprintf("    objects: %d → %d (%s)\n    bytes:   %s → %s (%s)",
		v.Old.Objects, v.New.Objects, signed(do, strconvInt), FormatBytes(v.Old.Bytes), FormatBytes(v.New.Bytes), signed(db, FormatBytes))
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
// (DefaultBudgetFile unless BudgetFile is given). With UpdateEnv set to 1 it
// records m's figures as the budget instead, creating the file and its
// directory when needed, and returns a BudgetRecorded verdict.
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
	v := &Verdict{Name: name, File: c.budgetFile, New: m.Figures, Sites: m.Sites, TightenBelow: c.tightenBelow}
	if os.Getenv(UpdateEnv) == "1" {
		err := updateBudgets(c.budgetFile, func(b map[string]Figures) {
			v.Old, v.HadBudget = b[name]
			b[name] = m.Figures
		})
		v.Outcome = BudgetRecorded
		return v, err
	}
	budgets, err := ReadBudgets(c.budgetFile)
	if err != nil {
		return nil, err
	}
	v.Old, v.HadBudget = budgets[name]
	switch {
	case !v.HadBudget:
		v.Outcome = BudgetMissing
	case v.New.Objects > v.Old.Objects || v.New.Bytes > v.Old.Bytes:
		v.Outcome = BudgetExceeded
	case below(v.New.Objects, v.Old.Objects, c.tightenBelow) || below(v.New.Bytes, v.Old.Bytes, c.tightenBelow):
		v.Outcome = BudgetLoose
	default:
		v.Outcome = BudgetHolds
	}
	return v, nil
}

func below(n, budget int64, fraction float64) bool {
	return float64(n) < fraction*float64(budget)
}

// ReadBudgets returns the budgets of a budget file by name; none when the
// file does not exist.
func ReadBudgets(path string) (map[string]Figures, error) {
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
	budgets, err := ReadBudgets(path)
	if err != nil {
		return err
	}
	change(budgets)
	return writeBudgets(path, budgets)
}
