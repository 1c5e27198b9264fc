package suitewide_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	"github.com/onsi/ginkgo/v2/types"
	. "github.com/onsi/gomega"
)

// Settings is a package-level variable of the code under test.
var Settings = struct{ Verbose bool }{}

var _ = Describe("a suite checked spec by spec", func() {
	var server *httptest.Server

	BeforeEach(func() {
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}))
	})

	AfterEach(func() {
		server.Close()
	})

	It("passes a spec whose server is closed in AfterEach", func() {
		client := &http.Client{Transport: &http.Transport{}}
		resp, err := client.Get(server.URL)
		Expect(err).NotTo(HaveOccurred())
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		client.CloseIdleConnections()
	})

	It("passes a spec that changes a global and puts it back", func() {
		old := Settings
		DeferCleanup(func() { Settings = old })
		Settings.Verbose = true
	})

	if showLeaks {
		It("fails a spec that leaves a worker blocked", Label("leaky"), func() {
			jobs := make(chan int)
			go func() {
				for range jobs {
				}
			}()
		})

		It("fails a spec that leaves a global changed", Label("leaky"), func() {
			Settings.Verbose = true
		})
	}
})

// An Ordered container's BeforeAll and AfterAll are judged as the
// container's own unit: a server started in BeforeAll and closed in
// AfterAll is no leak; a worker started in BeforeAll and never stopped is.
var _ = Describe("an ordered container", Ordered, func() {
	var server *httptest.Server

	BeforeAll(func() {
		server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	})

	AfterAll(func() {
		server.Close()
	})

	It("uses the server", func() {
		Expect(server.URL).NotTo(BeEmpty())
	})

	It("uses it again", func() {
		Expect(server.URL).NotTo(BeEmpty())
	})
})

var _ = Describe("a leaky ordered container", Ordered, Label("leaky"), func() {
	if !showLeaks {
		return
	}
	BeforeAll(func() {
		jobs := make(chan int)
		go func() {
			for range jobs {
			}
		}()
	})

	It("runs after the leaky BeforeAll", func() {})
})

// TestLeakySpecsAreFailedByName runs this suite again with the leaking specs
// added, and checks that each is failed by name, with what it left, and
// that every spec's figures are in the JSON report.
func TestLeakySpecsAreFailedByName(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	report, junit := filepath.Join(dir, "report.json"), filepath.Join(dir, "junit.xml")
	cmd := exec.Command(exe, "-test.run=^TestSuiteWide$", "-ginkgo.no-color", "-ginkgo.json-report="+report, "-ginkgo.junit-report="+junit)
	cmd.Env = append(os.Environ(), "RESIDUE_EXAMPLE_LEAKY_SPECS=1")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("suite with leaking specs exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		`CheckEverySpec: the spec "a suite checked spec by spec fails a spec that leaves a worker blocked" (`,
		"The spec left side effects (goroutines):",
		"suitewide_test.go:54",
		`CheckEverySpec: the spec "a suite checked spec by spec fails a spec that leaves a global changed" (`,
		"suitewide_test.Settings.Verbose: false → true",
		"the BeforeAll and AfterAll nodes of the Ordered container at",
		"They left 1 goroutine running",
		"4 Passed | 3 Failed",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var reports []types.Report
	if err := json.Unmarshal(data, &reports); err != nil {
		t.Fatal(err)
	}
	figures := map[string]string{}
	for _, spec := range reports[0].SpecReports {
		for _, e := range spec.ReportEntries {
			if e.Name == "residue" {
				figures[spec.LeafNodeText] = e.Value.AsJSON
			}
		}
	}
	if len(figures) != 7 {
		t.Fatalf("want the residue entry on all 7 specs, got %v", figures)
	}
	if f := figures["fails a spec that leaves a worker blocked"]; !strings.Contains(f, `{"Name":"goroutines","Value":1}`) || !strings.Contains(f, `"SideEffectsFound":true`) {
		t.Errorf("figures of the leaking spec: %s", f)
	}
	if f := figures["passes a spec whose server is closed in AfterEach"]; !strings.Contains(f, `{"Name":"goroutines","Value":0}`) || !strings.Contains(f, `"SideEffectsFound":false`) {
		t.Errorf("figures of the clean spec: %s", f)
	}

	xml, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{&#34;Name&#34;:&#34;goroutines&#34;,&#34;Value&#34;:1}`; !strings.Contains(string(xml), want) {
		t.Errorf("junit report lacks %s", want)
	}
}
