package myapp

import (
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/alloc"
)

var sink string

func TestAStandardLibrarySiteLeadsBackToThisModule(t *testing.T) {
	m, err := alloc.Measure(func() { sink = Render(100) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sites) != 1 {
		t.Fatalf("want one site, got\n%s", m)
	}
	s := m.Sites[0]
	if !strings.HasPrefix(s.Func, "strings.") || s.From.Func != "myapp.Render" {
		t.Fatalf("want a site in package strings reached from myapp.Render, got\n%s", m)
	}
}

func TestASleepTimerIsRuntimeBookkeeping(t *testing.T) {
	m, err := alloc.Measure(func() { time.Sleep(time.Microsecond) })
	if err != nil {
		t.Fatal(err)
	}
	if m.Objects != 0 {
		t.Fatalf("time.Sleep's timer was counted as the block's: %s", m)
	}
}
