package globals_test

import (
	"fmt"

	"github.com/residue-go/residue/globals"
)

var hits = map[string]int{}

// Find runs a block once and reports what it changed. Watching names the
// variable, so this example needs no debug info.
func ExampleFind() {
	report, err := globals.Find(func() { hits["home"]++ }, globals.Watching(&hits))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, c := range report.Changes {
		fmt.Println(c.Kind == "added", c.Key, c.After)
	}
	// Output: true "home" 1
}
