package leak_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/residue-go/residue/internal/golden"

	"github.com/residue-go/residue/leak"
)

func httpServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	return srv
}

// get returns a block that makes one request with client, reading and
// closing the body when closeBody is set.
func get(t *testing.T, client *http.Client, url string, closeBody bool) func() {
	return func() {
		resp, err := client.Get(url)
		if err != nil {
			t.Error(err)
			return
		}
		if closeBody {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	}
}

func TestIdleHTTPConnsAreNamedAndCanBeAllowed(t *testing.T) {
	withoutGC(t)
	srv := httpServer(t)

	t.Run("idle connection reported with its fix", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		r := find(t, get(t, client, srv.URL, true), leak.Within(quick))
		if len(r.Goroutines) != 2 {
			t.Fatalf("want the connection's reader and writer:\n%s", r)
		}
		for _, g := range r.Goroutines {
			if g.HTTP != "idle" {
				t.Errorf("goroutine %d not seen as an idle connection's", g.ID)
			}
		}
		msg := r.String()
		for _, want := range []string{"idle keep-alive connection", "CloseIdleConnections", "DisableKeepAlives", "leak.IgnoringIdleHTTPConns()"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message lacks %q:\n%s", want, msg)
			}
		}
		golden.Check(t, "idle_http", msg)
	})

	t.Run("idle connection allowed without waiting", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		start := time.Now()
		r := find(t, get(t, client, srv.URL, true), leak.Within(5*time.Second), leak.IgnoringIdleHTTPConns())
		if len(r.Goroutines) > 0 {
			t.Fatalf("idle connection reported despite the option:\n%s", r)
		}
		// The allowed goroutines never exit; had they counted as unsettled,
		// the verdict would have waited the whole window.
		if d := time.Since(start); d > time.Second {
			t.Errorf("the verdict took %v: allowed goroutines held it back", d)
		}
	})

	t.Run("unclosed body still reported", func(t *testing.T) {
		client := &http.Client{Transport: &http.Transport{}}
		defer client.CloseIdleConnections()
		r := find(t, get(t, client, srv.URL, false), leak.Within(quick), leak.IgnoringIdleHTTPConns())
		if len(r.Goroutines) != 2 {
			t.Fatalf("a connection whose body was never closed must be reported:\n%s", r)
		}
		for _, g := range r.Goroutines {
			if g.HTTP != "busy" {
				t.Errorf("goroutine %d not seen as a busy connection's", g.ID)
			}
		}
		msg := r.String()
		if !strings.Contains(msg, "resp.Body.Close()") {
			t.Errorf("message does not name the fix:\n%s", msg)
		}
		golden.Check(t, "unclosed_body", msg)
	})
}
