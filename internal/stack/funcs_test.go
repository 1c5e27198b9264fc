package stack_test

import (
	"testing"

	"github.com/residue-go/residue/internal/stack"
)

func TestMatchFunc(t *testing.T) {
	for _, c := range []struct {
		name, fn string
		want     bool
	}{
		{"strings.Join", "strings.Join", true},
		{"strings.Join", "strings.JoinX", false},
		{"encoding/json...", "encoding/json.Marshal", true},
		{"encoding/json...", "encoding/jsonx.Marshal", true},
		{"encoding/json.(*Decoder)...", "encoding/json.Marshal", false},
	} {
		if got := stack.MatchFunc(c.name)(c.fn); got != c.want {
			t.Errorf("MatchFunc(%q)(%q) = %v, want %v", c.name, c.fn, got, c.want)
		}
	}
}

func TestHasFunc(t *testing.T) {
	frames := []stack.Frame{{Func: "os.OpenFile"}, {Func: "os.Open"}, {Func: "main.main"}}
	if !stack.HasFunc(frames, "net.Dial", "os.Open") || stack.HasFunc(frames, "os.Pipe") || stack.HasFunc(nil, "os.Open") {
		t.Fatal("HasFunc misjudged")
	}
}
