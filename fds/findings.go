package fds

import (
	"fmt"
	"strings"

	"github.com/residue-go/residue/internal/probes"
)

// section is the report as the combined checks see it (probes.Report).
type section Report

func (r *section) Value() fmt.Stringer { return (*Report)(r) }

func (r *section) Title() string {
	if r.SocketsOnly {
		return "Sockets"
	}
	return "File descriptors"
}

// Findings lists one finding per kind of descriptor and
// function that opened it, counting the descriptors.
func (r *section) Findings() []probes.Finding {
	if r == nil {
		return nil
	}
	out := probes.GroupFindings(len(r.FDs), func(i int) string { return r.FDs[i].key() }, func(i int) string { return r.FDs[i].summary() })
	for i := range out {
		if n := out[i].Count; n > 1 {
			out[i].Summary += fmt.Sprintf(" and %d more like it", n-1)
		}
	}
	return out
}

func (r *section) Counts() []probes.Count {
	return []probes.Count{{Name: "descriptors", Value: int64(len(r.FDs))}}
}

// key names the descriptor by what it is and the function that opened it,
// nothing that changes from run to run (numbers, ports, temporary paths) or
// with edits elsewhere in a file (lines). One that was opened at one of
// several places is keyed as such, not by one of them: which places are
// candidates, and in which order, follows the memory profile's records at
// the moment of the attribution (a closed listener's objects may still
// count), and one run's first place was another's second (echo's
// TestEchoStartTLSAndStart, 3 runs in 4).
func (fd *FD) key() string {
	what := fd.Kind
	if s := fd.Socket; s != nil {
		// "tcp4 (MPTCP)" is "tcp4": whether a socket is multipath depends
		// on the kernel, not on the code.
		what, _, _ = strings.Cut(s.Name, " (")
		if s.Listening {
			what += " listener"
		}
	}
	if fd.Opened == nil && len(fd.OpenedAt) > 0 {
		return what + " opened at one of several places"
	}
	opener := "unknown"
	for i := len(fd.Opened) - 1; i > 0; i-- {
		if !strings.HasPrefix(fd.Opened[i].Func, "runtime.") {
			opener = fd.Opened[i].Func
			break
		}
	}
	return what + " opened by " + opener
}
