package memprof_test

import (
	"runtime"
	"testing"

	"github.com/residue-go/residue/internal/memprof"
)

func TestRecordAllocationsNestsAndRestores(t *testing.T) {
	defer func(old int) { runtime.MemProfileRate = old }(runtime.MemProfileRate)
	runtime.MemProfileRate = 4096
	r1 := memprof.RecordAllocations()
	r2 := memprof.RecordAllocations()
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate = %d while recording", runtime.MemProfileRate)
	}
	r1()
	r1() // idempotent
	if runtime.MemProfileRate != 1 {
		t.Fatalf("rate restored while another caller still records")
	}
	r2()
	if runtime.MemProfileRate != 4096 {
		t.Fatalf("rate = %d after the last release, want 4096", runtime.MemProfileRate)
	}
}
