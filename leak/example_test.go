package leak_test

import (
	"fmt"
	"os"
	"time"

	"github.com/residue-go/residue/leak"
)

func ExampleFindGoroutines() {
	stop := make(chan struct{})
	defer close(stop)

	report, err := leak.FindGoroutines(func() {
		go func() { <-stop }() // nobody closes stop before the block returns
	}, leak.Within(10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	fmt.Println(report.Leaked(), len(report.Goroutines), report.Goroutines[0].State)
	// Output: true 1 chan receive
}

func ExampleFindFDs() {
	var f *os.File
	report, err := leak.FindFDs(func() {
		f, _ = os.Open(os.DevNull) // opened and never closed
	}, leak.Within(0))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	fmt.Println(report.Leaked(), report.FDs[0].Kind, report.FDs[0].Path)
	// Output: true device /dev/null
}
