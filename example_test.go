package residue_test

import (
	"fmt"
	"os"

	"github.com/residue-go/residue"
	"github.com/residue-go/residue/globals"
)

// Flags is a package-level variable of the code under test.
var Flags = map[string]bool{}

func ExampleFind() {
	report, err := residue.Find(func() {
		Flags["verbose"] = true // a global the block forgets to put back
	}, globals.InPackages("github.com/residue-go/residue_test"))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	delete(Flags, "verbose")
	fmt.Println(report)
	// Output:
	// The block left side effects (global state):
	//
	// Global state
	//   The block changed 1 package-level variable (1 change):
	//
	//       github.com/residue-go/residue_test.Flags: added "verbose": true
}
