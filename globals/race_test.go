//go:build race

package globals_test

import (
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"

	"github.com/residue-go/residue/globals"
)

// raceMux is a package-level mux another goroutine registers routes on.
var raceMux = http.NewServeMux()

// raceFile is a package-level open file that another goroutine reads and
// writes while snapshots are taken.
var raceFile *os.File

// Snapshots read what other goroutines write under locks the snapshot
// does not take (an open file's state, os/signal's handler table, the
// standard output that testing and the program write, a ServeMux being
// registered on): under the race
// detector, none of those reads may be reported as a race.
func TestSnapshotsRaceWithNoWriter(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	raceFile = f
	defer func() { f.Close(); raceFile = nil }()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	loop := func(work func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					work()
				}
			}
		}()
	}
	loop(func() { _, _ = os.Stdout.Write(nil) })
	loop(func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR1)
		signal.Stop(c)
	})
	loop(func() {
		_, _ = f.WriteAt([]byte("x"), 0)
		_, _ = f.ReadAt(make([]byte, 1), 0)
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 500; i++ {
			raceMux.HandleFunc("/r"+strconv.Itoa(i), func(http.ResponseWriter, *http.Request) {})
		}
	}()
	for i := 0; i < 5; i++ {
		for _, opts := range [][]globals.Option{nil, {globals.InPackages("os", "os/signal", thisPackage)}} {
			if _, err := globals.Take(opts...); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	wg.Wait()
}
