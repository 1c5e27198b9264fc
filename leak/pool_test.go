package leak_test

// A small worker pool and two handlers that use it, as application code
// would: the goroutine a test leaks through them is created in newPool, a
// few calls away from the test's own line.

type pool struct {
	jobs chan func()
}

//go:noinline
func newPool(stop chan struct{}) *pool {
	p := &pool{jobs: make(chan func())}
	go p.work(stop)
	return p
}

//go:noinline
func (p *pool) work(stop chan struct{}) {
	select {
	case <-stop:
	case j := <-p.jobs:
		j()
	}
}

//go:noinline
func handleOrders(stop chan struct{}) { newPool(stop) }

//go:noinline
func handleInvoices(stop chan struct{}) { newPool(stop) }

// startVia starts a goroutine that starts the pool and exits: the worker's
// creator is gone by the time the block returns.
//
//go:noinline
func startVia(stop chan struct{}, done chan struct{}) {
	go func() {
		newPool(stop)
		close(done)
	}()
}
