package matchers_test

import (
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	. "github.com/residue-go/residue/matchers"
)

func TestTry(t *testing.T) {
	g := NewWithT(t)
	ch := make(chan int)
	start := time.Now()
	m := LeakGoroutines()
	ok, err := m.Match(func() {
		go func() { <-ch }()
		go func() { time.Sleep(time.Hour) }()
	})
	fmt.Println(ok, err, time.Since(start))
	fmt.Println(m.NegatedFailureMessage(nil))
	start = time.Now()
	g.Expect(func() {}).NotTo(LeakGoroutines())
	fmt.Println(time.Since(start))
}
