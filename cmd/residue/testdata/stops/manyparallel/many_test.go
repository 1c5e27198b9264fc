// Package manyparallel has more tests waiting in t.Parallel at once than
// residue has marker frames: each is still told apart by its own function.
package manyparallel

import (
	"os"
	"sync"
	"testing"
)

var (
	mu   sync.Mutex
	kept []*os.File
)

// keep opens a file and keeps it open: each test leaves one descriptor.
func keep(t *testing.T) {
	t.Parallel()
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	kept = append(kept, f)
	mu.Unlock()
}

func TestKeeps00(t *testing.T) { keep(t) }

func TestKeeps01(t *testing.T) { keep(t) }

func TestKeeps02(t *testing.T) { keep(t) }

func TestKeeps03(t *testing.T) { keep(t) }

func TestKeeps04(t *testing.T) { keep(t) }

func TestKeeps05(t *testing.T) { keep(t) }

func TestKeeps06(t *testing.T) { keep(t) }

func TestKeeps07(t *testing.T) { keep(t) }

func TestKeeps08(t *testing.T) { keep(t) }

func TestKeeps09(t *testing.T) { keep(t) }

func TestKeeps10(t *testing.T) { keep(t) }

func TestKeeps11(t *testing.T) { keep(t) }

func TestKeeps12(t *testing.T) { keep(t) }

func TestKeeps13(t *testing.T) { keep(t) }

func TestKeeps14(t *testing.T) { keep(t) }

func TestKeeps15(t *testing.T) { keep(t) }

func TestKeeps16(t *testing.T) { keep(t) }

func TestKeeps17(t *testing.T) { keep(t) }

func TestKeeps18(t *testing.T) { keep(t) }

func TestKeeps19(t *testing.T) { keep(t) }

func TestKeeps20(t *testing.T) { keep(t) }

func TestKeeps21(t *testing.T) { keep(t) }

func TestKeeps22(t *testing.T) { keep(t) }

func TestKeeps23(t *testing.T) { keep(t) }
