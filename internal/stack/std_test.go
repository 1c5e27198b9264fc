package stack_test

import (
	"runtime"
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
