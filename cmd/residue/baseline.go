package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

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
		Schema   int      `json:"schema"`
		Accepted *[]entry `json:"accepted"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, fmt.Errorf("baseline %s: not JSON: %v", path, err)
		}
		return nil, fmt.Errorf("baseline %s: not a residue baseline (an object with \"schema\": %d and \"accepted\": a list of entries; see docs/audit.md)", path, record.Schema)
	}
	if f.Schema != record.Schema {
		return nil, fmt.Errorf("baseline %s: schema %d, want %d", path, f.Schema, record.Schema)
	}
	if f.Accepted == nil {
		return nil, fmt.Errorf("baseline %s: no \"accepted\" list (an empty baseline is \"accepted\": [])", path)
	}
	for i, e := range *f.Accepted {
		line, _ := json.Marshal(e)
		switch {
		case e.Package == "" || e.Test == "" || e.Probe == "" || e.Key == "":
			return nil, fmt.Errorf("baseline %s: entry %d lacks a package, test, probe or key: %s", path, i+1, line)
		case !slices.Contains(record.Probes, e.Probe):
			return nil, fmt.Errorf("baseline %s: entry %d names probe %q; the probes are %s: %s", path, i+1, e.Probe, strings.Join(record.Probes, ", "), line)
		}
	}
	return newBaseline(*f.Accepted), nil
}

// writable reports why path cannot be written as a baseline, before the
// tests run.
func writable(path string) error {
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("baseline %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("baseline %s: %s is not a directory", path, dir)
	}
	return nil
}

func findingEntry(r *record.Record, f *record.Finding) entry {
	return entry{Package: r.Package, Test: r.Test, Probe: f.Probe, Key: f.Key, Count: f.Count}
}

// accepts reports whether the baseline holds the finding.
func (b *baseline) accepts(r *record.Record, f *record.Finding) bool {
	return b.has[findingEntry(r, f).id()]
}

// check sorts the entries this run did not see occur: stale, those it
// shows no longer occur — of tests that ran in recs without the finding,
// and, when every test of a package ran (filtered false: no -run, -skip,
// -failfast or flag of the test binaries') and its binary ran to its end
// (packages), of tests the package no longer has; and unchecked, those it
// says nothing of — of packages it did not run, or of tests a filter may
// have left out, which -update-baseline keeps.
func (b *baseline) check(recs []record.Record, packages map[string]bool, filtered bool) (stale, unchecked []entry) {
	ran, seen := map[[2]string]bool{}, map[[4]string]bool{}
	for i := range recs {
		r := &recs[i]
		if r.Error == stoppedError {
			// Stopped before its check: it says nothing of its findings.
			continue
		}
		ran[[2]string{r.Package, r.Test}] = true
		for j := range r.Findings {
			seen[findingEntry(r, &r.Findings[j]).id()] = true
		}
	}
	for _, e := range b.entries {
		switch {
		case seen[e.id()]:
		case ran[[2]string{e.Package, e.Test}] || !filtered && packages[e.Package]:
			stale = append(stale, e)
		default:
			unchecked = append(unchecked, e)
		}
	}
	return stale, unchecked
}

// writeBaseline writes every finding of recs, and the entries kept, to
// path: sorted, one entry a line, so that a change to the accepted findings
// is a change to lines. It returns how many entries it wrote, and how many
// of them were kept.
func writeBaseline(path string, recs []record.Record, kept []entry) (n, nKept int, err error) {
	es := slices.Clone(kept)
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
			return 0, 0, err
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
	return len(es), len(kept), os.WriteFile(path, buf.Bytes(), 0o644)
}
