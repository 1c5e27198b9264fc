package matchers_test

import (
	"strings"
	"testing"

	. "github.com/residue-go/residue/matchers"
)

// A matcher given something other than a func() says what it got, and
// runs nothing.
func TestMatchersRejectWhatIsNotAFunc(t *testing.T) {
	var nilFunc func()
	cases := []struct {
		actual any
		want   string
	}{
		{nil, "expects a block of type func(), got nil"},
		{nilFunc, "got a nil func()"},
		{42, "got int 42"},
		{"text", `got string "text"`},
		{func(int) {}, "got a func(int): wrap it"},
		{func() error { return nil }, "got a func() error"},
	}
	for _, c := range cases {
		_, err := LeakGoroutines().Match(c.actual)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "LeakGoroutines ") {
			t.Errorf("Match(%#v) = %v, want an error containing %q", c.actual, err, c.want)
		}
	}
	if ok, err := LeakGoroutines().Match(func() {}); err != nil || ok {
		t.Errorf("Match(func() {}) = %v, %v", ok, err)
	}
}
