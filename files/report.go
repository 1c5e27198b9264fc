package files

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/residue-go/residue/internal/memprof"
	"github.com/residue-go/residue/internal/origin"
	"github.com/residue-go/residue/internal/probes"
	"github.com/residue-go/residue/internal/text"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }

func (r *section) Title() string { return "Files" }

// Findings lists one finding per path left.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	out := make([]probes.Finding, 0, len(r.Paths))
	for i := range r.Paths {
		p := &r.Paths[i]
		out = append(out, probes.Finding{Key: p.key(), Count: 1, Summary: p.summary()})
	}
	return out
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "files", Value: int64(len(r.Paths))}}
}

// key names the path by its kind, where it is, its name with random digits
// made a "*" (as os.CreateTemp and os.MkdirTemp add them), and the function
// that created it: nothing that changes from run to run.
func (p *Path) key() string {
	return p.kind() + " in the " + p.In + ": " + randomDigits(filepath.Base(p.Path)) + " created by " + origin.Maker(p.Created, p.CreatedAt)
}

func (p *Path) kind() string {
	if p.Dir {
		return "directory"
	}
	return "file"
}

// randomDigits replaces each run of four or more digits in name by "*".
func randomDigits(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); {
		j := i
		for j < len(name) && isDigit(name[j]) {
			j++
		}
		switch {
		case j-i >= 4:
			b.WriteByte('*')
			i = j
		case j > i:
			b.WriteString(name[i:j])
			i = j
		default:
			b.WriteByte(name[i])
			i++
		}
	}
	return b.String()
}

// summary describes the path in one line: "file /tmp/out-123.json" or
// "directory /tmp/work-456 (3 entries)".
func (p *Path) summary() string {
	s := p.kind() + " " + p.Path
	if p.Dir {
		s += " (" + text.Plural(p.Entries, "entry", "entries") + ")"
	}
	return s
}

// String formats the report as a failure message: a headline, then one
// block per path with the stack that created it.
func (r *Report) String() string {
	if r == nil || len(r.Paths) == 0 {
		return "The block left no files behind."
	}
	makers := "another process, another probed block, a child process or a raw system call made them"
	if r.stacksStopped {
		makers += ", or the block itself after its stacks stopped being recorded: " + memprof.BudgetNote()
	}
	return text.Leftovers("The block left "+text.Plural(len(r.Paths), "file or directory", "files and directories")+" behind",
		r.Within, r.Stilled, r.Paths, writePath, "Also created while the block ran, and not counted as the block's (nothing ties them to it: "+makers+")",
		r.Others, (*Path).summary)
}

func writePath(b *strings.Builder, p *Path) {
	fmt.Fprintf(b, "    not removed: remove it when done (defer os.Remove%s), or create it under t.TempDir(), which testing removes\n", map[bool]string{false: "", true: "All"}[p.Dir])
	if len(p.OneOf) > 1 {
		fmt.Fprintf(b, "    one of %s: more such paths appeared than the block created, so which are the block's cannot be told\n", strings.Join(p.OneOf, ", "))
	}
	why := "the block created " + map[bool]string{false: "files", true: "directories"}[p.Dir] + " at each"
	if !origin.WriteSites(b, "created", origin.Subject(p.adopted), p.By == "block", p.Created, p.CreatedAt, why) {
		b.WriteString("    created by the block\n")
	}
}
