package stack_test

import (
	"path"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/residue-go/residue/internal/stack"
)

func TestPackage(t *testing.T) {
	for fn, want := range map[string]string{
		"net/http.(*Server).Serve":                          "net/http",
		"strings.Repeat":                                    "strings",
		"example.com/m/v2/parse.(*Decoder).Next.func1":      "example.com/m/v2/parse",
		"myapp.Render":                                      "myapp",
		"example.com/m.Map[go.shape.*example.com/x.T]":      "example.com/m",
		"vendor/golang.org/x/net/http2/hpack.huffmanDecode": "vendor/golang.org/x/net/http2/hpack",
	} {
		if got := stack.Package(fn); got != want {
			t.Errorf("Package(%q) = %q, want %q", fn, got, want)
		}
	}
}

//go:noinline
func framesHere() []stack.Frame {
	pcs := make([]uintptr, 8)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(0, pcs)])
	var out []stack.Frame
	for {
		f, more := frames.Next()
		out = append(out, stack.Frame{Func: f.Function, File: f.File, Line: f.Line})
		if !more {
			return out
		}
	}
}

func TestIsStandard(t *testing.T) {
	var sawRuntime, sawOwn bool
	for _, f := range framesHere() {
		switch {
		case f.Func == "runtime.Callers":
			sawRuntime = true
			if !stack.IsStandard(f) || !stack.InRuntimeSource(f) {
				t.Errorf("%s at %s is the runtime's", f.Func, f.File)
			}
		case strings.HasPrefix(f.Func, "github.com/residue-go/residue/"):
			sawOwn = true
			if stack.IsStandard(f) || stack.InRuntimeSource(f) {
				t.Errorf("%s at %s is not the standard library's", f.Func, f.File)
			}
		}
	}
	if !sawRuntime || !sawOwn {
		t.Fatal("frames missing")
	}
	// A dotless package of no module, its file outside the standard
	// library's source (a plain build, where that source has a directory).
	if strings.HasPrefix(runtimeFile(), "/") && stack.IsStandard(stack.Frame{Func: "tool.Run", File: "/home/u/tool/run.go"}) {
		t.Error("tool.Run in /home/u/tool is not standard")
	}
}

func runtimeFile() string {
	for _, f := range framesHere() {
		if f.Func == "runtime.Callers" {
			return f.File
		}
	}
	return ""
}

func TestOwnCode(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	root := path.Dir(path.Dir(path.Dir(self))) + "/" // residue's source, as file names give it
	// A name "fn@file" gives the frame a file in residue's source.
	f := func(fn string) stack.Frame {
		fn, file, _ := strings.Cut(fn, "@")
		if file != "" {
			file = root + file
		}
		return stack.Frame{Func: fn, File: file}
	}
	funcs := func(frames []stack.Frame) []string {
		var out []string
		for _, fr := range frames {
			out = append(out, fr.Func)
		}
		return out
	}
	for _, c := range []struct {
		name        string
		frames, own []string
	}{
		{"a Ginkgo node under CheckEverySpec",
			[]string{"example.com/app_test.leak", "example.com/app_test.init.func1.2", "github.com/onsi/ginkgo/v2/internal.extractBodyFunction.func3",
				"github.com/onsi/ginkgo/v2/internal.(*Suite).runNode.func3.2", "github.com/residue-go/residue/suite.checkSpecs.func1.1"},
			[]string{"example.com/app_test.leak", "example.com/app_test.init.func1.2"}},
		{"m.Run under VerifyTestMain",
			[]string{"example.com/app.TestX", "testing.tRunner", "runtime.goexit", "github.com/residue-go/residue.VerifyTestMain.func1"},
			[]string{"example.com/app.TestX"}},
		{"a matcher's block is the user's already",
			[]string{"net.Listen", "example.com/app_test.TestX.func1"},
			[]string{"net.Listen", "example.com/app_test.TestX.func1"}},
		{"residue's own tests and examples are user code",
			[]string{"github.com/residue-go/residue_test.TestX.func1", "github.com/residue-go/residue/examples/sockets_test.init.func2"},
			[]string{"github.com/residue-go/residue_test.TestX.func1", "github.com/residue-go/residue/examples/sockets_test.init.func2"}},
		{"residue's closure inlined into the user's function, known by its file",
			[]string{"example.com/app_test.leak", "example.com/app_test.init.func1.3.2", "github.com/onsi/ginkgo/v2/internal.extractBodyFunction.func3",
				"example.com/app_test.init.func1.CheckEverySpec.5.1@suite/every_spec.go"},
			[]string{"example.com/app_test.leak", "example.com/app_test.init.func1.3.2"}},
		{"nothing but a harness is kept whole",
			[]string{"testing.tRunner", "github.com/residue-go/residue/internal/probes.(*Run).Enter"},
			[]string{"testing.tRunner", "github.com/residue-go/residue/internal/probes.(*Run).Enter"}},
	} {
		var frames []stack.Frame
		for _, fn := range c.frames {
			frames = append(frames, f(fn))
		}
		if got := funcs(stack.OwnCode(frames)); !slices.Equal(got, c.own) {
			t.Errorf("%s: OwnCode kept %q, want %q", c.name, got, c.own)
		}
	}
}

func TestEscapedPaths(t *testing.T) {
	for _, c := range []struct{ pkg, prefix string }{
		{"gopkg.in/yaml.v3", "gopkg.in/yaml%2ev3"},
		{"example.com/a.b/c.d.e", "example.com/a.b/c%2ed%2ee"},
		{"go.uber.org/zap", "go.uber.org/zap"},
		{"fmt", "fmt"},
		{`ex.com/100%/"q" ü`, `ex.com/100%25/%22q%22%20%c3%bc`},
	} {
		if got := stack.SymbolPrefix(c.pkg); got != c.prefix {
			t.Errorf("SymbolPrefix(%q) = %q, want %q", c.pkg, got, c.prefix)
		}
		if got := stack.Unescape(c.prefix + ".(*T).F.func1"); got != c.pkg+".(*T).F.func1" {
			t.Errorf("Unescape(%q) = %q", c.prefix+".(*T).F.func1", got)
		}
	}
	if got := stack.Unescape("a/b.F%zz"); got != "a/b.F%zz" {
		t.Errorf("a %% without two hex digits is kept: %q", got)
	}
}
