package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"github.com/residue-go/residue/internal/record"
)

// entry is one accepted finding of a baseline file.
type entry struct {
	Package string `json:"package"`
	Test    string `json:"test"`
	Probe   string `json:"probe"`
	Key     string `json:"key"`
	Count   int    `json:"count"` // for the reader; a different count still matches
}

func (e entry) id() [4]string { return [4]string{e.Package, e.Test, e.Probe, e.Key} }

func compareEntries(a, b entry) int {
	return cmp.Or(cmp.Compare(a.Package, b.Package), cmp.Compare(a.Test, b.Test),
		cmp.Compare(a.Probe, b.Probe), cmp.Compare(a.Key, b.Key))
}

// baseline is the set of findings a team accepts.
type baseline struct {
	entries []entry
	has     map[[4]string]bool
}

func newBaseline(entries []entry) *baseline {
	b := &baseline{entries: entries, has: map[[4]string]bool{}}
	for _, e := range entries {
		b.has[e.id()] = true
	}
	return b
}

// readBaseline reads path; a missing file is an empty baseline.
func readBaseline(path string) (*baseline, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return newBaseline(nil), nil
	}
	if err != nil {
		return nil, err
	}
	var f struct {
		Schema   int     `json:"schema"`
		Accepted []entry `json:"accepted"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("baseline %s: %w", path, err)
	}
	if f.Schema != record.Schema {
		return nil, fmt.Errorf("baseline %s: schema %d, want %d", path, f.Schema, record.Schema)
	}
	return newBaseline(f.Accepted), nil
}

func findingEntry(r *record.Record, f *record.Finding) entry {
	return entry{Package: r.Package, Test: r.Test, Probe: f.Probe, Key: f.Key, Count: f.Count}
}

// accepts reports whether the baseline holds the finding.
func (b *baseline) accepts(r *record.Record, f *record.Finding) bool {
	return b.has[findingEntry(r, f).id()]
}

// stale returns the entries for tests that ran in recs without the finding.
func (b *baseline) stale(recs []record.Record) []entry {
	ran, seen := map[[2]string]bool{}, map[[4]string]bool{}
	for i := range recs {
		r := &recs[i]
		ran[[2]string{r.Package, r.Test}] = true
		for j := range r.Findings {
			seen[findingEntry(r, &r.Findings[j]).id()] = true
		}
	}
	var out []entry
	for _, e := range b.entries {
		if ran[[2]string{e.Package, e.Test}] && !seen[e.id()] {
			out = append(out, e)
		}
	}
	return out
}

// writeBaseline writes every finding of recs to path: sorted, one entry a
// line, so that a change to the accepted findings is a change to lines.
func writeBaseline(path string, recs []record.Record) (int, error) {
	var es []entry
	for i := range recs {
		for j := range recs[i].Findings {
			es = append(es, findingEntry(&recs[i], &recs[i].Findings[j]))
		}
	}
	slices.SortFunc(es, compareEntries)
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.id() == b.id() })
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "{\n  \"schema\": %d,\n  \"accepted\": [", record.Schema)
	for i, e := range es {
		var line bytes.Buffer
		enc := json.NewEncoder(&line)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(e); err != nil {
			return 0, err
		}
		if i > 0 {
			buf.WriteString(",")
		}
		buf.WriteString("\n    ")
		buf.Write(bytes.TrimRight(line.Bytes(), "\n"))
	}
	if len(es) > 0 {
		buf.WriteString("\n  ")
	}
	buf.WriteString("]\n}\n")
	return len(es), os.WriteFile(path, buf.Bytes(), 0o644)
}
