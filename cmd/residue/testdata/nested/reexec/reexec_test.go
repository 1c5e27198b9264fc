package reexec

import (
	"os"
	"os/exec"
	"testing"
)

var running = make(chan struct{})

// TestChild runs only in the child process that TestRunsItself starts,
// where it leaves a goroutine running.
func TestChild(t *testing.T) {
	if os.Getenv("NESTED_CHILD") == "" {
		t.Skip("runs in the child process of TestRunsItself")
	}
	go func() { <-running }()
}

// TestRunsItself runs its own test binary again: the child's tests are not
// this run's tests.
func TestRunsItself(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestChild$")
	cmd.Env = append(os.Environ(), "NESTED_CHILD=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
