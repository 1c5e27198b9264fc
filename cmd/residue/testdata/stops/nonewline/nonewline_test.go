// Package nonewline has a test whose output does not end its last line:
// go test's "--- PASS" line then follows it on the same line, where the
// reader of go test's output does not see it.
package nonewline

import (
	"fmt"
	"testing"
)

func TestPrintsWithoutANewline(t *testing.T) { fmt.Print("\x1b[0m") }

func TestAfterIt(t *testing.T) {}
