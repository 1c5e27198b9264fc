package alloc

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// maxSitesShown bounds how many sites String and formatSites list; the rest
// are summed on one line.
const maxSitesShown = 20

// String describes the figures, the runs and the sites, one line per site:
//
//	5 objects, 320 B in 2 sites
//	    3 objects, 192 B  strings.(*Builder).grow  strings/builder.go:68
//	                      from parse.Header  parse/parse.go:41
//	    2 objects, 128 B  parse.Header  parse/parse.go:44
//
// When a budget was set (AtMost, BytesAtMost), a line naming it comes
// first, and each AtMostIn limit the block went past follows the sites.
func (m *Measurement) String() string {
	var b strings.Builder
	if line := m.budgetLine(); line != "" {
		b.WriteString(line + "\n")
	}
	b.WriteString(m.Figures.String())
	if len(m.Sites) > 0 {
		fmt.Fprintf(&b, " in %s", text.Plural(int64(len(m.Sites)), "site", "sites"))
	}
	if len(m.Runs) > 1 {
		lo := m.least()
		fmt.Fprintf(&b, " (the most of %d measured runs; the least was %s)", len(m.Runs), lo)
	}
	if m.WarmUps > 0 {
		fmt.Fprintf(&b, " after %s", text.Plural(int64(m.WarmUps), "warm-up run", "warm-up runs"))
	}
	if m.RuntimeCached.Objects > 0 {
		fmt.Fprintf(&b, " (not counted: %s of runtime bookkeeping from its caches)", m.RuntimeCached)
	}
	if s := formatSites(m.Sites); s != "" {
		b.WriteString("\n")
		b.WriteString(s)
	}
	if m.Budget.Objects >= 0 || m.Budget.Bytes >= 0 {
		for _, l := range m.exceeded() {
			b.WriteString("\n" + l.String())
		}
	}
	return b.String()
}

// String describes what the block allocated in the limit's function, and
// where:
//
//	2 objects, 32 B in strings.Join, over the limit of 1 object
//	    2 objects, 32 B  strings.(*Builder).grow  strings/builder.go:67
//	                     from parse.Header  parse/parse.go:41
func (l Limit) String() string {
	verdict := "within"
	if l.Objects > l.AtMost {
		verdict = "over"
	}
	s := fmt.Sprintf("%s in %s, %s the limit of %s", l.Figures, l.Function, verdict, text.Plural(l.AtMost, "object", "objects"))
	if sites := formatSites(l.Sites); sites != "" {
		s += "\n" + sites
	}
	return s
}

// String returns "3 objects, 192 B".
func (f Figures) String() string {
	return text.Plural(f.Objects, "object", "objects") + ", " + text.Bytes(f.Bytes)
}

// formatSites lists sites one per line, indented by four spaces, with the
// frame outside the standard library that led to each on the next line.
func formatSites(sites []Site) string {
	var b strings.Builder
	width := 0
	shown := sites[:min(len(sites), maxSitesShown)]
	for _, s := range shown {
		width = max(width, len(s.Figures.String()))
	}
	for i, s := range shown {
		if i > 0 {
			b.WriteByte('\n')
		}
		fig := s.Figures.String()
		fmt.Fprintf(&b, "    %s%s  %s  %s", fig, strings.Repeat(" ", width-len(fig)), s.Func, shortLocation(s.Frame))
		if s.From.Func != "" {
			fmt.Fprintf(&b, "\n    %s  from %s  %s", strings.Repeat(" ", width), s.From.Func, shortLocation(s.From))
		}
	}
	if rest := sites[len(shown):]; len(rest) > 0 {
		var f Figures
		for _, s := range rest {
			f.Objects += s.Objects
			f.Bytes += s.Bytes
		}
		fmt.Fprintf(&b, "\n    … and %s more: %s", text.Plural(int64(len(rest)), "site", "sites"), f)
	}
	return b.String()
}

// shortLocation returns "dir/file.go:line": the file's last two path
// elements, enough to find it and short enough to read.
func shortLocation(f probes.Frame) string {
	if f.File == "" {
		return "?"
	}
	dir, file := filepath.Split(f.File)
	return filepath.Join(filepath.Base(dir), file) + ":" + strconv.Itoa(f.Line)
}
