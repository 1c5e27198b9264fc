//go:build unix && !linux && !darwin

package fds

// fdPath is unknown on these systems without procfs.
func fdPath(int) string { return "" }

// netTables has nothing to cache here.
type netTables struct{}

// tcpState is not read on these systems.
func (*netTables) tcpState(*Socket, int) string { return "" }
