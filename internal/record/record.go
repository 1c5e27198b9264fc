// Package record is the format in which an audited test run reports each
// test: one JSON object per line, written by the hook that `residue test`
// puts into every test, and read back by the command. The format is
// described in docs/audit.md; Schema changes when a field changes meaning.
package record

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Schema is the version of the format written in every record.
const Schema = 1

// EnvFile is the environment variable naming the file records are appended
// to. Without it the hook records nothing.
const EnvFile = "RESIDUE_AUDIT_FILE"

// EnvGlobals is the environment variable that narrows the globals probe:
// "off", or a comma-separated list of package patterns ("example.com/app/...")
// to read instead of every package in the binary. Empty: every package.
const EnvGlobals = "RESIDUE_AUDIT_GLOBALS"

// EnvIgnoreGlobals is the environment variable naming what the globals
// probe leaves out (residue test -ignore-global): names as globals.Ignoring
// takes them, one per line.
const EnvIgnoreGlobals = "RESIDUE_AUDIT_IGNORE_GLOBALS"

// EnvWithin is the environment variable that sets the settle window of
// every probe (a time.ParseDuration string); unset, the probes' default.
const EnvWithin = "RESIDUE_AUDIT_WITHIN"

// EnvFiles is set to "on" when the files probe is to run too (residue test
// -files): files and directories a test left in the temp directory or the
// working directory.
const EnvFiles = "RESIDUE_AUDIT_FILES"

// EnvExperiment is set when the command added to GOEXPERIMENT for the
// build: "=" followed by the value the user's environment had, or "" when it
// had none. The test binary puts that back, so that the tests, and the
// programs they start, see the user's GOEXPERIMENT.
const EnvExperiment = "RESIDUE_AUDIT_GOEXPERIMENT"

// EnvGoTmpDir carries the user's GOTMPDIR back to the tests, as
// EnvExperiment does GOEXPERIMENT: the command points GOTMPDIR into the
// directory it makes for the run, so that go test's work directory goes
// with it even when go test is killed.
const EnvGoTmpDir = "RESIDUE_AUDIT_GOTMPDIR"

// Restored maps each variable that carries a value of the user's
// environment back to the tests to the variable it restores.
var Restored = map[string]string{EnvExperiment: "GOEXPERIMENT", EnvGoTmpDir: "GOTMPDIR"}

// WorkDirPrefix begins the name of the directory residue test makes in the
// temp directory for a run (the overlay, the go.mod copy, the records) and
// removes: the files probe does not take it for a test's.
const WorkDirPrefix = "residue-audit-"

// Verdicts.
const (
	Clean = "clean" // the test left nothing behind
	Found = "found" // the test left something behind: see Findings
	Error = "error" // the probes could not judge the test: see Error
)

// Probe names.
const (
	Goroutines  = "goroutines"
	Descriptors = "descriptors"
	Processes   = "processes"
	Files       = "files"
	Globals     = "globals"
)

// Probes are the probe names, in the order reports show them.
var Probes = []string{Goroutines, Descriptors, Processes, Files, Globals}

// Record is what one top-level test or one Ginkgo spec left behind.
type Record struct {
	Schema  int    `json:"schema"`
	Package string `json:"package"`
	// Test is the test's name, or the full text of a Ginkgo spec.
	Test    string `json:"test"`
	Spec    bool   `json:"spec,omitempty"`
	Verdict string `json:"verdict"`
	// Elapsed is the test's time in seconds, probes included.
	Elapsed float64 `json:"elapsed"`
	// Check is the part of Elapsed, in seconds, that the check at the
	// test's end took: a few milliseconds when the test left nothing; when
	// it left goroutines, descriptors, processes or files, the settle
	// window it waited out before reporting them (less for goroutines the
	// runtime proves stuck, as Go 1.27 does).
	Check float64 `json:"check"`
	// Failed and Skipped are the test's own outcome, as the testing
	// package or Ginkgo saw it when the record was written.
	Failed   bool      `json:"failed,omitempty"`
	Skipped  bool      `json:"skipped,omitempty"`
	Counts   Counts    `json:"counts"`
	Findings []Finding `json:"findings,omitempty"`
	// Unattributed are changes to globals the test saw while another test
	// or check was running: which of them made each cannot be told, so
	// they are neither the test's findings nor in its counts, verdict or
	// the baseline.
	Unattributed []Finding `json:"unattributed,omitempty"`
	// Report is the full text of the findings, as a failure message shows
	// them: what was left and the lines it came from.
	Report string `json:"report,omitempty"`
	Error  string `json:"error,omitempty"`
}

// Counts are the probes' figures for the test.
type Counts struct {
	Goroutines  int `json:"goroutines"`  // goroutines left running
	Descriptors int `json:"descriptors"` // file descriptors and sockets left open
	Processes   int `json:"processes"`   // child processes left running or unwaited
	// Files are the files and directories left behind: present when the
	// files probe ran (residue test -files).
	Files   *int `json:"files,omitempty"`
	Globals int  `json:"globals"` // changes to package-level variables and process state
}

// Finding is one thing left behind, grouped by a key that names it without
// line numbers, so that it survives edits elsewhere in the file.
type Finding struct {
	Probe string `json:"probe"` // Goroutines, Descriptors, Processes, Files or Globals
	// Key names the finding without line numbers, IDs or ports, as the
	// probe defines it: for goroutines the function they are in and the
	// functions whose go statements started them, for a descriptor its kind
	// and the function that opened it, for a global the path of what
	// changed.
	Key   string `json:"key"`
	Count int    `json:"count"` // how many goroutines, descriptors or changes share the key
	Text  string `json:"text"`  // the finding in one line
	// Accepted is set by residue test when its baseline holds the finding.
	Accepted bool `json:"accepted,omitempty"`
}

// Append writes r as one line to the file named by path. Records from many
// processes may go to the same file: each is written with a single
// append-mode write.
func Append(path string, r Record) error {
	r.Schema = Schema
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Read decodes every record of r, one per line.
func Read(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var rec Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return out, fmt.Errorf("record %d: %w", n, err)
		}
		if rec.Schema != Schema {
			return out, fmt.Errorf("record %d: schema %d, want %d", n, rec.Schema, Schema)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}
