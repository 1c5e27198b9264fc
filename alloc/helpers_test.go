package alloc_test

import (
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/residue-go/residue/alloc"
)

// Sinks keep the tests' allocations on the heap.
var (
	sinkBytes []byte
	sinkAny   any
	sinkInts  []int
	sinkStr   string
)

// thisLine returns the line of its caller.
func thisLine() int {
	_, _, line, _ := runtime.Caller(1)
	return line
}

// noise starts n goroutines allocating in a tight loop until stop is called.
func noise(n int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local [][]byte
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				local = append(local[:0], make([]byte, 32+i%64), []byte(strings.Repeat("n", i%20)))
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

func measure(t *testing.T, block func()) *alloc.Measurement {
	t.Helper()
	m, err := alloc.Measure(block)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
