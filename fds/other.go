//go:build !unix

package fds

import (
	"errors"
	"runtime"
)

func platformSnapshot() ([]fdEntry, error) {
	return nil, errors.New("residue cannot list file descriptors on " + runtime.GOOS)
}

type netTables struct{}

func describe(e fdEntry, _ *netTables) FD {
	return FD{Num: e.num, Kind: "unknown", AcceptedBy: -1}
}

func isListening(int) bool { return false }
