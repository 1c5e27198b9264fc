//go:build linux

package globals

import (
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"

	"github.com/residue-go/residue/internal/memprof"
)

// Every process setting a block can change is seen, and reading them
// changes none.
func TestProcessSettingsSeeEveryChange(t *testing.T) {
	cases := []struct {
		name   string
		change func() (undo func())
	}{
		{"GOMAXPROCS", func() func() {
			old := runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
			return func() { runtime.GOMAXPROCS(old) }
		}},
		{"GC percent", func() func() { old := debug.SetGCPercent(321); return func() { debug.SetGCPercent(old) } }},
		{"memory limit", func() func() { old := debug.SetMemoryLimit(1 << 40); return func() { debug.SetMemoryLimit(old) } }},
		{"umask", func() func() { old := syscall.Umask(0o077); return func() { syscall.Umask(old) } }},
		{"resource limit RLIMIT_NOFILE", func() func() {
			var l syscall.Rlimit
			_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
			lower := l
			lower.Cur--
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lower)
			return func() { _ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l) }
		}},
		{"ignored signals", func() func() {
			signal.Ignore(syscall.SIGUSR2)
			return func() {
				// Reset leaves a signal marked ignored; Notify clears the mark.
				c := make(chan os.Signal, 1)
				signal.Notify(c, syscall.SIGUSR2)
				signal.Stop(c)
			}
		}},
		{"signals delivered to channels (signal.Notify)", func() func() {
			c := make(chan os.Signal, 1)
			signal.Notify(c, syscall.SIGUSR1)
			return func() { signal.Stop(c) }
		}},
		{"runtime.MemProfileRate", func() func() {
			old := runtime.MemProfileRate
			runtime.MemProfileRate = 12345
			return func() { runtime.MemProfileRate = old }
		}},
		{"mutex profile fraction", func() func() {
			old := runtime.SetMutexProfileFraction(7)
			return func() { runtime.SetMutexProfileFraction(old) }
		}},
		{"standard input", func() func() {
			saved, _ := syscall.Dup(0)
			f, _ := os.CreateTemp(t.TempDir(), "stdin")
			_ = syscall.Dup2(int(f.Fd()), 0)
			f.Close()
			return func() { _ = syscall.Dup2(saved, 0); syscall.Close(saved) }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := selfIndex(); err != nil && strings.Contains(c.name, "signal.Notify") {
				t.Skip("os/signal's handler table is found through the debug info: ", err)
			}
			before := processSettings()
			if again := processSettings(); len(diffSettings(before, again)) != 0 {
				t.Fatalf("reading the settings changed them: %v", diffSettings(before, again))
			}
			undo := c.change()
			after := processSettings()
			undo()
			changes := diffSettings(before, after)
			if len(changes) != 1 || changes[0].Path != c.name {
				t.Fatalf("changes %v, want one of %s", changes, c.name)
			}
			if restored := diffSettings(before, processSettings()); len(restored) != 0 {
				t.Fatalf("not restored: %v", restored)
			}
			if s := changes[0].String(); !strings.HasPrefix(s, c.name+": ") || !strings.Contains(s, " → ") {
				t.Errorf("change reads %q", s)
			}
		})
	}
}

// Allocation recording by a check running at the same time is residue's
// own doing, not a change of the memory profiling rate.
func TestRecordingIsNotAProfilingRateChange(t *testing.T) {
	before := processSettings()
	release := memprof.RecordAllocations()
	during := processSettings()
	release()
	if changes := diffSettings(before, during); len(changes) != 0 {
		t.Fatalf("recording allocations read as %v", changes)
	}
}
