package globals

import (
	"strings"
	"testing"
)

// lateStarted and lateHold steer lateTest, the test that starts while a
// snapshot is taken.
var lateStarted, lateHold chan struct{}

func lateTest(t *testing.T) {
	close(lateStarted)
	<-lateHold
}

// A test that starts running while a snapshot is taken, when the look
// before it found tests waiting to run, is seen by a second look after
// it, and named as company: it could have changed something and undone it
// before its own check. (fx's parallel tests register signal.Notify and
// undo it; a test resuming from t.Parallel between a check's look and its
// reading of the process settings had its registration blamed on that
// check, about one run of fx's suite in ten.)
func TestATestStartedDuringASnapshotIsCompany(t *testing.T) {
	lateStarted, lateHold = make(chan struct{}), make(chan struct{})
	// A test paused in t.Parallel until this one returns: what the first
	// look finds waiting.
	t.Run("paused", func(t *testing.T) { t.Parallel() })
	done, lateDone := make(chan company), make(chan struct{})
	go func() {
		c, _, err := around(nil, false, func() (*snapshot, error) {
			// A test starts, as one resuming from t.Parallel would,
			// once the first look has been made.
			go func() {
				t.Run("late", lateTest)
				close(lateDone)
			}()
			<-lateStarted
			return &snapshot{}, nil
		}, nil)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	c := <-done
	close(lateHold)
	<-lateDone
	if !c.waiting {
		t.Fatal("the first look found no test waiting to run")
	}
	var named []string
	for name := range c.tests {
		named = append(named, name)
	}
	if !strings.Contains(strings.Join(named, " "), "globals.lateTest") {
		t.Errorf("the test that started during the snapshot is not company: %q", named)
	}
}
