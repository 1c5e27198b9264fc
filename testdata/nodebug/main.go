// Command nodebug runs combined checks in a binary built without debug
// info (-ldflags=-w), as a plain `go test` builds test binaries.
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/residue-go/residue"
)

func main() {
	stop := make(chan struct{})
	for range 2 {
		report, err := residue.Find(func() { go func() { <-stop }() }, residue.Within(10*time.Millisecond))
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(2)
		}
		fmt.Println(report)
	}
	close(stop)
}
