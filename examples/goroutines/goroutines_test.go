package goroutines_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/examples/internal/show"
	"github.com/residue-go/residue/leak"
	. "github.com/residue-go/residue/matchers"
)

// fetch is code under test: it reads a URL's status with its own client,
// and forgets to close the response body.
func fetch(client *http.Client, url string) *http.Response {
	resp, err := client.Get(url)
	Expect(err).NotTo(HaveOccurred())
	return resp
}

// fetchAndClose is the fixed version.
func fetchAndClose(client *http.Client, url string) int {
	resp, err := client.Get(url)
	Expect(err).NotTo(HaveOccurred())
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// Pool is code under test: a worker pool whose workers read jobs until the
// channel is closed.
type Pool struct{ jobs chan int }

func StartPool(n int) *Pool {
	p := &Pool{jobs: make(chan int)}
	for range n {
		go func() {
			for range p.jobs {
			}
		}()
	}
	return p
}

// Watch is code under test: it polls until its context is cancelled.
func Watch(ctx context.Context, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
	}()
}

// Heartbeat is code under test: a ticker loop stopped through a done channel.
type Heartbeat struct {
	done, stopped chan struct{}
}

func StartHeartbeat(every time.Duration) *Heartbeat {
	h := &Heartbeat{done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(h.stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
			case <-h.done:
				return
			}
		}
	}()
	return h
}

func (h *Heartbeat) Stop() { close(h.done); <-h.stopped }

var _ = Describe("LeakGoroutines", func() {
	var server *httptest.Server
	BeforeEach(func() {
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
		DeferCleanup(server.Close)
	})

	It("catches an HTTP client whose response body is never closed", func() {
		client := &http.Client{Transport: &http.Transport{}}
		var resp *http.Response
		DeferCleanup(func() {
			resp.Body.Close()
			client.CloseIdleConnections()
		})
		msg := show.FailureOf(func() {
			Expect(func() { resp = fetch(client, server.URL) }).NotTo(LeakGoroutines(leak.Within(200 * time.Millisecond)))
		})
		Expect(msg).To(ContainSubstring("net/http.(*persistConn).readLoop"))
		Expect(msg).To(ContainSubstring("net/http.(*persistConn).writeLoop"))
	})

	It("passes the same client once the body is closed and idle connections are dropped", func() {
		client := &http.Client{Transport: &http.Transport{}}
		Expect(func() {
			fetchAndClose(client, server.URL)
			client.CloseIdleConnections()
		}).NotTo(LeakGoroutines())
	})

	It("catches workers blocked on a channel nobody closes", func() {
		var pool *Pool
		DeferCleanup(func() { close(pool.jobs) })
		msg := show.FailureOf(func() {
			Expect(func() { pool = StartPool(3) }).NotTo(LeakGoroutines(leak.Within(200 * time.Millisecond)))
		})
		Expect(msg).To(ContainSubstring("The block left 3 goroutines running"))
		Expect(msg).To(ContainSubstring("3 × goroutines"))
		Expect(msg).To(ContainSubstring("goroutines_test.StartPool"))
	})

	It("passes a worker that exits when its context is cancelled", func() {
		Expect(func() {
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			Watch(ctx, &wg)
			cancel()
			wg.Wait()
		}).NotTo(LeakGoroutines())
	})

	It("passes a ticker loop stopped through its done channel", func() {
		Expect(func() {
			h := StartHeartbeat(time.Millisecond)
			time.Sleep(5 * time.Millisecond)
			h.Stop()
		}).NotTo(LeakGoroutines())
	})

	It("catches the same ticker loop when nobody stops it", func() {
		var h *Heartbeat
		DeferCleanup(func() { h.Stop() })
		msg := show.FailureOf(func() {
			Expect(func() { h = StartHeartbeat(time.Millisecond) }).NotTo(LeakGoroutines(leak.Within(100 * time.Millisecond)))
		})
		Expect(msg).To(ContainSubstring("goroutines_test.StartHeartbeat.func1"))
	})
})
