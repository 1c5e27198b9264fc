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
// finished, and the overlay is removed.
func TestStopSignal(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "residue")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	tmp, marker := t.TempDir(), filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(bin, "test", "-C", filepath.Join("testdata", "stops"), "-run", "TestHangs", "./hang")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "RESIDUE_FIXTURE_HANG="+marker)
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
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
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
	if err := syscall.Kill(pid, 0); err == nil {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the test binary (pid %d) is still running", pid)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "residue-audit-*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}
