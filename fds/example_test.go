package fds_test

import (
	"fmt"
	"os"

	"github.com/residue-go/residue/fds"
)

func ExampleFind() {
	var f *os.File
	report, err := fds.Find(func() {
		f, _ = os.Open(os.DevNull) // opened and never closed
	}, fds.Within(0))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Println(len(report.FDs) > 0, report.FDs[0].Kind, report.FDs[0].Path)
	// Output: true device /dev/null
}
