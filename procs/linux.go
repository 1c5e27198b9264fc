//go:build linux

package procs

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/residue-go/residue/internal/osproc"
)

// children lists the process's child processes (none, at the cost of one
// system call, when it has none; see childless) from the children lists
// of its threads in procfs (/proc/self/task/*/children), which cost a few
// reads, or, on kernels built without them, from the parent of every
// process (/proc/*/stat), which costs one read per process on the machine.
// procfs may miss a child that is being created or reaped during the read;
// settling reads again.
func children() ([]child, error) {
	if osproc.Childless() {
		return nil, nil
	}
	tasks, err := readFile("/proc/self/task", true)
	if err != nil {
		return nil, err
	}
	var out []child
	for _, t := range tasks {
		b, err := readFile("/proc/self/task/"+t+"/children", false)
		if errors.Is(err, syscall.ENOENT) && t == strconv.Itoa(os.Getpid()) {
			return scanChildren()
		}
		for _, f := range b {
			if pid, err := strconv.Atoi(f); err == nil {
				if c, ok := readStat(pid); ok {
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

// readFile returns the words of a small procfs file, or the names in a
// directory, with plain system calls: os.Open's extra look at the file and
// its netpoller registration cost more than the read here.
func readFile(path string, dir bool) ([]string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer syscall.Close(fd)
	var buf [4096]byte
	var words []string
	var text []byte
	for {
		var n int
		if dir {
			n, err = syscall.Getdents(fd, buf[:])
		} else {
			n, err = syscall.Read(fd, buf[:])
		}
		if err != nil || n <= 0 {
			return append(words, strings.Fields(string(text))...), err
		}
		if dir {
			_, _, words = syscall.ParseDirent(buf[:n], -1, words)
		} else {
			text = append(text, buf[:n]...)
		}
	}
}

// scanChildren finds the children by reading every process's parent.
func scanChildren() ([]child, error) {
	self := os.Getpid()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []child
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		c, ok := readStat(pid)
		if ok && c.ppid == self {
			out = append(out, c)
		}
	}
	return out, nil
}

// readStat reads /proc/<pid>/stat: "pid (comm) S ppid … starttime …".
func readStat(pid int) (child, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return child{}, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return child{}, false
	}
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 20 {
		return child{}, false
	}
	c := child{pid: pid, comm: string(b[open+1 : end]), state: f[0]}
	c.ppid, _ = strconv.Atoi(f[1])
	c.start, _ = strconv.ParseUint(f[19], 10, 64)
	return c, true
}

// describe reads the command line of a child; a zombie has none left.
func (c child) describe() Process {
	p := Process{PID: c.pid, State: stateName(c.state), Zombie: c.state == "Z"}
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(c.pid) + "/cmdline"); err == nil && len(b) > 0 {
		p.Args = strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	}
	if len(p.Args) == 0 {
		p.Args = []string{c.comm}
	}
	return p
}

func stateName(s string) string {
	switch s {
	case "R":
		return "running"
	case "S":
		return "sleeping"
	case "D":
		return "waiting on I/O"
	case "Z":
		return "zombie"
	case "T", "t":
		return "stopped"
	}
	return s
}
