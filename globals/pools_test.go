package globals_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/residue-go/residue/globals"
)

func roundTrip(t *testing.T, srv *httptest.Server) {
	t.Helper()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
}

func hello() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") }))
}

// The connection pool of http.DefaultTransport changes with every request
// and every idle connection closed, in a warm process too; it is not
// program state.
func TestConnectionPoolsAreNotState(t *testing.T) {
	warm := hello()
	roundTrip(t, warm)
	warm.Close()

	// A round trip that leaves a connection idle in the pool.
	srv := hello()
	defer srv.Close()
	r, err := globals.Find(func() { roundTrip(t, srv) })
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) > 0 {
		t.Errorf("a round trip was reported:\n%s", r)
	}
	// Closing the server closes the idle connection left by an earlier test.
	r, err = globals.Find(srv.Close)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) > 0 {
		t.Errorf("closing idle connections was reported:\n%s", r)
	}
}

func TestTransportConfigurationIsState(t *testing.T) {
	tr := http.DefaultTransport.(*http.Transport)
	defer func(old int) { tr.MaxIdleConnsPerHost = old }(tr.MaxIdleConnsPerHost)
	r, err := globals.Find(func() { tr.MaxIdleConnsPerHost = 7 }, globals.InPackages("net/http"))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(r); !strings.Contains(got, "net/http.DefaultTransport.MaxIdleConnsPerHost: 0 → 7") {
		t.Errorf("got\n%s", got)
	}
}
