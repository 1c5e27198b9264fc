package memprof

import "runtime"

// Churn allocates n small objects and runs a GC cycle after every 10,000:
// for tests of the stack budget, which is looked at as GC cycles end.
func Churn(n int) {
	for i := 1; i <= n; i++ {
		churned[i%len(churned)] = new([4]int)
		if i%10000 == 0 {
			runtime.GC()
		}
	}
	clear(churned[:])
}

// churned keeps Churn's objects from being optimized away.
var churned [64]*[4]int
