package matchers_test

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/leak"
	. "github.com/residue-go/residue/matchers"
)

func ExampleLeakGoroutines() {
	// In a Ginkgo spec this is Expect(…); outside one, a Gomega with a fail
	// handler of your own.
	g := NewGomega(func(message string, _ ...int) {
		// The first lines, up to how long the check waited: when nothing
		// else in the process can run, it ends the window early.
		head, _, _ := strings.Cut(message, " (")
		fmt.Println(head)
	})

	stop := make(chan struct{})
	defer close(stop)
	g.Expect(func() {
		go func() { <-stop }()
	}).NotTo(LeakGoroutines(leak.Within(20 * time.Millisecond)))
	// Output:
	// Expected the block not to leak goroutines.
	// The block left 1 goroutine running after it returned
}
