package globals

import (
	"strings"
	"syscall"
	"testing"
)

// An index that could not be built because the process ran out of file
// descriptors says so, and is built on a later call once descriptors are
// free again.
func TestIndexErrorsOtherThanNoDebugInfoAreNotKept(t *testing.T) {
	selfMu.Lock()
	saved := selfIx
	selfIx, selfErr = nil, nil
	selfMu.Unlock()
	defer func() {
		selfMu.Lock()
		if selfIx == nil {
			selfIx = saved
		}
		selfMu.Unlock()
	}()

	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Skip(err)
	}
	low := lim
	low.Cur = 3 // stdin, stdout, stderr: any open fails with EMFILE
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Skip(err)
	}
	_, err := selfIndex()
	if e := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); e != nil {
		t.Fatal(e)
	}
	if err == nil || !strings.Contains(err.Error(), "too many open files") || strings.Contains(err.Error(), "not an ELF") {
		t.Errorf("with no descriptor left: %v", err)
	}
	if _, err := selfIndex(); err != nil {
		t.Errorf("once descriptors are free again: %v", err)
	}
}
