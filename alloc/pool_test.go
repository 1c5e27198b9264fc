package alloc_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/residue-go/residue/alloc"
)

// Inputs kept in package variables, so that the blocks below convert and
// copy them at run time.
var (
	poolA, poolB = "residue", "allocations"
	poolWords    = []string{"allocation-figures", "steady-state", "warm", "pools"}
)

// build concatenates words with a strings.Builder (no pool).
//
//go:noinline
func build(words []string) string {
	var b strings.Builder
	for _, w := range words {
		b.WriteString(w)
		b.WriteByte(' ')
	}
	return b.String()
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// render concatenates words in a bytes.Buffer drawn from a sync.Pool, as
// much code that formats text does.
//
//go:noinline
func render(words []string) string {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	for _, w := range words {
		buf.WriteString(w)
		buf.WriteByte(' ')
	}
	s := buf.String()
	bufPool.Put(buf)
	return s
}

// With a warm-up, the figures are those of testing.AllocsPerRun (and so of
// go test -benchmem): the steady state, with sync.Pools warm. Without one,
// code that draws from a pool is measured with the pool empty, as each
// measurement's garbage collections leave it.
func TestWarmUpMeasuresTheSteadyStateOfAllocsPerRun(t *testing.T) {
	alloc.SkipUnderRace(t)
	for _, c := range []struct {
		name   string
		block  func()
		pooled bool
	}{
		{"fmt.Sprintf", func() { sinkStr = fmt.Sprintf("%s/%s/%s", poolA, poolB, poolA) }, true},
		{"strings.Builder", func() { sinkStr = build(poolWords) }, false},
		{"pooled bytes.Buffer", func() { sinkStr = render(poolWords) }, true},
	} {
		steady := testing.AllocsPerRun(100, c.block)
		steadyBytes := bytesPerRun(100, c.block)
		warm, err := alloc.Measure(c.block, alloc.WarmUp(1))
		if err != nil {
			t.Fatal(err)
		}
		if float64(warm.Objects) != steady || warm.Bytes != steadyBytes {
			t.Errorf("%s: with a warm-up, %s; testing.AllocsPerRun: %v objects, %d B\n%s", c.name, warm.Figures, steady, steadyBytes, warm)
		}
		several, err := alloc.Measure(c.block, alloc.WarmUp(2), alloc.Runs(3))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range several.Runs {
			if float64(r.Objects) != steady {
				t.Errorf("%s: measured run %d of 3 after warm-ups: %s; testing.AllocsPerRun: %v objects", c.name, i+1, r, steady)
			}
		}
		cold, err := alloc.Measure(c.block)
		if err != nil {
			t.Fatal(err)
		}
		if c.pooled && float64(cold.Objects) <= steady {
			t.Errorf("%s: without a warm-up the pool is empty, so more is allocated than %v objects; got %s", c.name, steady, cold.Figures)
		}
		if !c.pooled && cold.Figures != warm.Figures {
			t.Errorf("%s: no pool, so a warm-up changes nothing; got %s cold, %s warm", c.name, cold.Figures, warm.Figures)
		}
		t.Logf("%s: AllocsPerRun %v; warm %s; cold %s", c.name, steady, warm.Figures, cold.Figures)
	}
}

// bytesPerRun is testing.AllocsPerRun for bytes, as go test -benchmem
// counts them: the average of runs calls after one warm-up call, from the
// runtime's total of allocated bytes, with one processor.
func bytesPerRun(runs int, f func()) int64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return int64(after.TotalAlloc-before.TotalAlloc) / int64(runs)
}

func TestAPanicInAWarmUpRunSaysWhichRun(t *testing.T) {
	alloc.SkipUnderRace(t)
	n := 0
	_, err := alloc.Measure(func() {
		if n++; n == 2 {
			panic("second call")
		}
	}, alloc.WarmUp(3))
	if err == nil || !strings.Contains(err.Error(), "warm-up run 2 of 3: the block panicked: second call") {
		t.Fatalf("err = %v", err)
	}
}
