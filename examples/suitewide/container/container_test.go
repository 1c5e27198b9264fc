package container_test

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"

	"github.com/residue-go/residue/suite"
)

// leakWorker starts a goroutine that waits for jobs that never come.
func leakWorker() {
	jobs := make(chan int)
	go func() {
		for range jobs {
		}
	}()
}

// leakListener opens a listener and does not close it.
func leakListener() {
	if _, err := net.Listen("tcp", "127.0.0.1:0"); err != nil {
		Fail(err.Error())
	}
}

var _ = Describe("a service", func() {
	var server *httptest.Server

	// The outer BeforeEach and AfterEach are not decorated; the specs of
	// the checked container below still run them, and the server they
	// start and close is no leak.
	BeforeEach(func() {
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
	})

	AfterEach(func() {
		server.Close()
	})

	// CheckEverySpec on a container checks the specs inside it only, as
	// CheckEverySpec on RunSpecs checks every spec of the suite.
	Describe("checked", suite.CheckEverySpec(), func() {
		It("passes a spec that uses the server and closes its client", func() {
			client := &http.Client{Transport: &http.Transport{}}
			resp, err := client.Get(server.URL)
			if err != nil {
				Fail(err.Error())
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			client.CloseIdleConnections()
		})

		if showLeaks {
			It("fails a spec that leaves a worker blocked and a listener open", func() {
				leakWorker()
				leakListener()
			})
		}
	})

	Describe("not checked", func() {
		if showLeaks {
			It("passes a spec that leaves a worker blocked, outside the checked container", func() {
				leakWorker()
			})
		}
	})
})

// TestOnlyTheDecoratedContainerIsChecked runs this suite again with the
// leaking specs added: the one inside the decorated container fails, by
// name, and the one outside passes. What it left is traced to the spec's
// own lines, not to the decorator's.
func TestOnlyTheDecoratedContainerIsChecked(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestContainer$", "-ginkgo.no-color")
	cmd.Env = append(os.Environ(), "RESIDUE_EXAMPLE_LEAKY_SPECS=1")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("suite with leaking specs exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		`CheckEverySpec: the spec "a service checked fails a spec that leaves a worker blocked and a listener open" (`,
		"The spec left side effects (goroutines, file descriptors):",
		"2 Passed | 1 Failed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The goroutine was started, and the listener opened, by helpers the
	// spec's It called: the lines named as the block's are the It's.
	for _, intro := range []string{"reached from the block at\n", "opened by the block at "} {
		_, after, found := strings.Cut(string(out), intro)
		line, _, _ := strings.Cut(strings.TrimSpace(after), "\n")
		if !found || !strings.Contains(line, "container_test.go:") {
			t.Errorf("%q is followed by %q, not a line of the spec:\n%s", intro, line, out)
		}
	}
	if strings.Contains(string(out), "outside the checked container (") {
		t.Errorf("the spec outside the decorated container was checked:\n%s", out)
	}
}
