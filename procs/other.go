//go:build !linux

package procs

// children is not read on systems without procfs: the probe sees no child
// processes there.
func children() ([]child, error) { return nil, nil }

func (c child) describe() Process { return Process{PID: c.pid, Args: []string{c.comm}} }
