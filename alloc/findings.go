package alloc

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// section is the measurement as the combined checks see it
// (probes.Report).
type section Measurement

func (m *section) Value() fmt.Stringer { return (*Measurement)(m) }
func (m *section) Title() string       { return "Allocations" }

// Findings lists one finding per budget the block went past (AtMost,
// BytesAtMost, each AtMostIn).
func (m *section) Findings() []probes.Finding {
	if m == nil {
		return nil
	}
	var out []probes.Finding
	if b := m.Budget.Objects; b >= 0 && m.Objects > b {
		out = append(out, probes.Finding{Key: "objects over budget", Count: 1,
			Summary: fmt.Sprintf("%d objects, over the budget of %d", m.Objects, b)})
	}
	if b := m.Budget.Bytes; b >= 0 && m.Bytes > b {
		out = append(out, probes.Finding{Key: "bytes over budget", Count: 1,
			Summary: fmt.Sprintf("%s, over the budget of %s", text.Bytes(m.Bytes), text.Bytes(b))})
	}
	for _, l := range (*Measurement)(m).exceeded() {
		out = append(out, probes.Finding{Key: "objects in " + l.Function + " over budget", Count: 1,
			Summary: fmt.Sprintf("%d objects in %s, over the budget of %d", l.Objects, l.Function, l.AtMost)})
	}
	return out
}

func (m *section) Counts() []probes.Count {
	return []probes.Count{{Name: "allocated objects", Value: m.Objects}, {Name: "allocated bytes", Value: m.Bytes}}
}

// budgetLine says what the budget was, or "" when none was set.
func (m *Measurement) budgetLine() string {
	var limits []string
	if m.Budget.Objects >= 0 {
		limits = append(limits, fmt.Sprintf("at most %d objects", m.Budget.Objects))
	}
	if m.Budget.Bytes >= 0 {
		limits = append(limits, "at most "+text.Bytes(m.Budget.Bytes))
	}
	if len(limits) == 0 {
		return ""
	}
	return fmt.Sprintf("The block allocated %s; the budget is %s.", m.Figures, strings.Join(limits, " and "))
}
