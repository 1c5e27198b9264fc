package probes

import "testing"

// TestWithin: a run started inside another's block is within it, whether
// the block is entered or adopted; a run started beside it is not, and no
// run is within one started inside it.
func TestWithin(t *testing.T) {
	outer, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	defer outer.Finish()
	beside, _ := Start()
	defer beside.Finish()
	var entered *Run
	outer.Enter(func() { entered, _ = Start() })
	defer entered.Finish()
	restore := outer.Adopt()
	adopted, _ := Start()
	restore()
	defer adopted.Finish()
	for _, c := range []struct {
		name  string
		r, o  *Run
		wants bool
	}{
		{"entered in outer", entered, outer, true},
		{"adopted by outer", adopted, outer, true},
		{"beside outer", beside, outer, false},
		{"outer in entered", outer, entered, false},
		{"entered in beside", entered, beside, false},
	} {
		if got := c.r.Within(c.o); got != c.wants {
			t.Errorf("%s: Within = %v, want %v", c.name, got, c.wants)
		}
	}
}
