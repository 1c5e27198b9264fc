//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStopSignal stops an audit with SIGTERM sent to residue alone while a
// test hangs: the test binary is stopped too, the test is reported as not
// finished, and the overlay is removed. A second signal kills go test and
// the test binary: go test's work directory is removed all the same.
func TestStopSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "residue")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, signals := range []int{1, 2} {
		t.Run(strconv.Itoa(signals), func(t *testing.T) { stopAudit(t, bin, signals) })
	}
}

func stopAudit(t *testing.T, bin string, signals int) {
	tmp, marker := t.TempDir(), filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(bin, "test", "-C", filepath.Join("testdata", "stops"), "-run", "TestHangs", "./hang")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "RESIDUE_FIXTURE_HANG="+marker)
	if signals > 1 {
		cmd.Env = append(cmd.Env, "RESIDUE_FIXTURE_IGNORE_INTERRUPT=1")
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	for deadline := time.Now().Add(time.Minute); pid == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the test did not start:\n%s", stderr.String())
		}
		b, _ := os.ReadFile(marker)
		pid, _ = strconv.Atoi(string(b))
	}
	for i := range signals {
		if i > 0 {
			// The first has reached go test, which waits for the test
			// binary that ignores it.
			time.Sleep(200 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("residue did not stop:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFailed {
		t.Errorf("exit code %d, want %d", code, exitFailed)
	}
	if !strings.Contains(stdout.String(), "example.com/stops/hang TestHangs did not finish") ||
		!strings.Contains(stderr.String(), "residue: FAIL: 1 test did not finish") {
		t.Errorf("the stopped test is not named:\n%s%s", stdout.String(), stderr.String())
	}
	if running(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the test binary (pid %d) is still running", pid)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// running reports whether process pid still runs a while after it was
// killed: once go test is killed too, the test binary is left a zombie
// until something reaps it, which in a container may be never.
func running(pid int) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if syscall.Kill(pid, 0) != nil {
			return false
		}
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i >= 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			return false
		}
	}
	return true
}
