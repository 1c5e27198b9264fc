package globals_test

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/examples/internal/show"
	"github.com/residue-go/residue/globals"
	. "github.com/residue-go/residue/matchers"
)

// Config is code under test: settings a package keeps in a variable.
type Config struct {
	Timeout time.Duration
	Hosts   []string
}

var (
	// Settings is the package's configuration.
	Settings = Config{Timeout: 5 * time.Second}
	// plugins is a registry filled by Register.
	plugins = map[string]func(){}
)

// Register adds a plugin to the package's registry.
func Register(name string, f func()) { plugins[name] = f }

// WithTimeout runs f with a temporary timeout, and forgets to restore it.
func WithTimeout(d time.Duration, f func()) {
	Settings.Timeout = d
	f()
}

// WithTimeoutRestored runs f with a temporary timeout and restores it.
func WithTimeoutRestored(d time.Duration, f func()) {
	defer func(old time.Duration) { Settings.Timeout = old }(Settings.Timeout)
	Settings.Timeout = d
	f()
}

var _ = Describe("MutateGlobals", func() {
	It("passes when the block restores what it changed", func() {
		Expect(func() { WithTimeoutRestored(time.Second, func() {}) }).NotTo(MutateGlobals())
	})

	It("passes on stdlib calls that only fill lazy caches", func() {
		Expect(func() {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_ = json.NewEncoder(w).Encode(map[string]any{"at": time.Now().Format(time.RFC3339)})
			}))
			defer srv.Close()
			resp, err := http.Get(srv.URL)
			Expect(err).NotTo(HaveOccurred())
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_ = fmt.Sprint(resp.StatusCode)
		}).NotTo(MutateGlobals())
	})

	It("names a struct field the block left changed", func() {
		defer func() { Settings.Timeout = 5 * time.Second }()
		msg := show.FailureOf(func() {
			Expect(func() { WithTimeout(time.Minute, func() {}) }).NotTo(MutateGlobals())
		})
		Expect(msg).To(ContainSubstring("github.com/residue-go/residue/examples/globals_test.Settings.Timeout: 5s → 1m0s"))
	})

	It("names the key added to a registry", func() {
		defer delete(plugins, "audit")
		msg := show.FailureOf(func() {
			Expect(func() { Register("audit", func() {}) }).NotTo(MutateGlobals())
		})
		Expect(msg).To(ContainSubstring(`github.com/residue-go/residue/examples/globals_test.plugins: added "audit": `))
	})

	It("names a standard-library registry", func() {
		msg := show.FailureOf(func() {
			Expect(func() { _ = mime.AddExtensionType(".example", "text/x-example") }).NotTo(MutateGlobals())
		})
		Expect(msg).To(ContainSubstring(`mime.mimeTypes: added ".example": "text/x-example; charset=utf-8"`))
	})

	It("reports the environment and the working directory", func() {
		wd, _ := os.Getwd()
		DeferCleanup(os.Chdir, wd)
		DeferCleanup(os.Unsetenv, "EXAMPLE_MODE")
		msg := show.FailureOf(func() {
			Expect(func() {
				_ = os.Setenv("EXAMPLE_MODE", "debug")
				_ = os.Chdir(os.TempDir())
			}).NotTo(MutateGlobals(globals.Watching(&Settings)))
		})
		Expect(msg).To(ContainSubstring(`environment: added $EXAMPLE_MODE="debug"`))
		Expect(msg).To(ContainSubstring(`working directory: `))
	})

	It("can ignore what a block is allowed to change", func() {
		defer func() { Settings.Timeout = 5 * time.Second }()
		Expect(func() { WithTimeout(time.Minute, func() {}) }).NotTo(MutateGlobals(
			globals.Ignoring("github.com/residue-go/residue/examples/globals_test.Settings.Timeout")))
	})
})
