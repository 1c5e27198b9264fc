package leak_test

import (
	"fmt"
	"time"

	"github.com/residue-go/residue/leak"
)

func ExampleFind() {
	stop := make(chan struct{})
	defer close(stop)

	report, err := leak.Find(func() {
		go func() { <-stop }() // nobody closes stop before the block returns
	}, leak.Within(10*time.Millisecond))
	if err != nil {
		panic(err)
	}
	fmt.Println(len(report.Goroutines) > 0, len(report.Goroutines), report.Goroutines[0].State)
	// Output: true 1 chan receive
}
