//go:build !unix

package globals

import (
	"runtime"
	"strconv"
)

const settingsNote = "GOMAXPROCS and the memory profiling rate"

func processSettings() []setting {
	return []setting{
		{"GOMAXPROCS", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"runtime.MemProfileRate", strconv.Itoa(runtime.MemProfileRate)},
	}
}
