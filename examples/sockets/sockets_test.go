package sockets_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/redis/go-redis/v9"

	"github.com/residue-go/residue/examples/internal/show"
	"github.com/residue-go/residue/fds"
	. "github.com/residue-go/residue/matchers"
)

// CountVisit is code under test: it counts a visit in Redis through a
// client of its own, closing it when closeClient is set.
func CountVisit(addr, page string, closeClient bool) int64 {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	if closeClient {
		defer rdb.Close()
	}
	n, err := rdb.Incr(context.Background(), "visits:"+page).Result()
	Expect(err).NotTo(HaveOccurred())
	return n
}

// Status is code under test: it reads a URL's status code with client.
func Status(client *http.Client, url string, closeBody bool) int {
	resp, err := client.Get(url)
	Expect(err).NotTo(HaveOccurred())
	if closeBody {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp.StatusCode
}

// here returns "file:line" of the line after the caller's.
func here() string {
	_, file, line, _ := runtime.Caller(1)
	return file + ":" + strconv.Itoa(line+1)
}

var _ = Describe("LeakSockets", func() {
	Describe("a go-redis client", func() {
		It("is caught when it is not closed, with its socket and the line that made it", func() {
			var at string
			msg := show.FailureOf(func() {
				Expect(func() {
					at = here()
					CountVisit(redisAddr, "home", false)
				}).NotTo(LeakSockets())
			})
			Expect(msg).To(ContainSubstring("The block left 1 socket open"))
			Expect(msg).To(MatchRegexp(`fd \d+: tcp4 127\.0\.0\.1:\d+ → %s ESTABLISHED`, redisAddr))
			Expect(msg).To(ContainSubstring("github.com/redis/go-redis/v9"))
			Expect(msg).To(ContainSubstring("reached from the block at " + at))
		})

		It("passes when the client is closed", func() {
			Expect(func() { CountVisit(redisAddr, "home", true) }).NotTo(LeakSockets())
		})
	})

	Describe("net/http", func() {
		var srv *httptest.Server
		BeforeEach(func() {
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				fmt.Fprint(w, "hello")
			}))
			DeferCleanup(srv.Close)
		})

		It("catches a response body that is not closed", func() {
			client := &http.Client{Transport: &http.Transport{}}
			DeferCleanup(client.CloseIdleConnections)
			var at string
			msg := show.FailureOf(func() {
				Expect(func() {
					at = here()
					Status(client, srv.URL, false)
				}).NotTo(LeakSockets(fds.Within(200 * time.Millisecond)))
			})
			Expect(msg).To(ContainSubstring("whose body was not closed"))
			Expect(msg).To(ContainSubstring("reached from the block at " + at))
		})

		It("names an idle keep-alive connection, and allows it on request", func() {
			client := &http.Client{Transport: &http.Transport{}}
			DeferCleanup(client.CloseIdleConnections)
			msg := show.FailureOf(func() {
				Expect(func() { Status(client, srv.URL, true) }).NotTo(LeakSockets(fds.Within(100 * time.Millisecond)))
			})
			Expect(msg).To(ContainSubstring("idle keep-alive connection"))
			Expect(msg).To(ContainSubstring("CloseIdleConnections"))

			Expect(func() { Status(client, srv.URL, true) }).
				NotTo(LeakSockets(fds.IgnoringIdleHTTPConns(), fds.Within(100*time.Millisecond)))
		})

		It("passes when the body is closed and idle connections are closed", func() {
			client := &http.Client{Transport: &http.Transport{}}
			Expect(func() {
				Status(client, srv.URL, true)
				client.CloseIdleConnections()
			}).NotTo(LeakSockets())
		})
	})

	Describe("an httptest.Server", func() {
		It("is caught when it is not closed", func() {
			var srv *httptest.Server
			DeferCleanup(func() { srv.Close() })
			var at string
			msg := show.FailureOf(func() {
				Expect(func() {
					at = here()
					srv = httptest.NewServer(http.NotFoundHandler())
				}).NotTo(LeakSockets(fds.Within(100 * time.Millisecond)))
			})
			Expect(msg).To(ContainSubstring("listener on " + srv.Listener.Addr().String()))
			Expect(msg).To(ContainSubstring("the listener of an httptest.Server that was not closed"))
			Expect(msg).To(ContainSubstring("opened by the block at " + at))
		})

		It("passes when it is closed", func() {
			Expect(func() {
				srv := httptest.NewServer(http.NotFoundHandler())
				resp, err := http.Get(srv.URL)
				Expect(err).NotTo(HaveOccurred())
				resp.Body.Close()
				srv.Close()
				http.DefaultTransport.(*http.Transport).CloseIdleConnections()
			}).NotTo(LeakSockets())
		})
	})

	Describe("net.Listen", func() {
		It("is caught when the listener is left open", func() {
			var ln net.Listener
			DeferCleanup(func() { ln.Close() })
			var at string
			msg := show.FailureOf(func() {
				Expect(func() {
					at = here()
					ln, _ = net.Listen("tcp", "127.0.0.1:0")
				}).NotTo(LeakSockets(fds.Within(50 * time.Millisecond)))
			})
			Expect(msg).To(ContainSubstring("listener on " + ln.Addr().String()))
			Expect(msg).To(ContainSubstring("opened by the block at " + at))
		})
	})
})
