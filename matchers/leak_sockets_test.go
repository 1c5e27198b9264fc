package matchers_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/residue-go/residue/fds"
	. "github.com/residue-go/residue/matchers"
)

func lineAfter() int {
	_, _, line, _ := runtime.Caller(1)
	return line + 1
}

func TestNotToLeakSocketsPassesWhenEverythingIsClosed(t *testing.T) {
	g := NewWithT(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	g.Expect(func() {
		client := &http.Client{Transport: &http.Transport{}}
		resp, err := client.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		client.CloseIdleConnections()
	}).NotTo(LeakSockets())
}

func TestLeakSocketsNamesTheListenerAndTheLineThatOpenedIt(t *testing.T) {
	var ln net.Listener
	var line int
	m := LeakSockets(fds.Within(0))
	ok, err := m.Match(func() {
		line = lineAfter()
		ln, _ = net.Listen("tcp", "127.0.0.1:0")
	})
	if ln != nil {
		defer ln.Close()
	}
	if err != nil || !ok {
		t.Fatalf("Match = %v, %v", ok, err)
	}
	msg := m.NegatedFailureMessage(nil)
	for _, want := range []string{
		"Expected the block not to leak sockets.\nThe block left 1 socket open:\n\nfd ",
		"listener on " + ln.Addr().String(),
		"a listener that was not closed: call its Close method",
		fmt.Sprintf("opened by the block at %s:%d", thisFile(), line),
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
}

func thisFile() string {
	_, file, _, _ := runtime.Caller(0)
	return file
}

func TestLeakSocketsLooksAtSocketsAndLeakFileDescriptorsAtEverything(t *testing.T) {
	g := NewWithT(t)
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	openFile := func() {
		f, _ := os.Open(os.DevNull)
		files = append(files, f)
	}
	g.Expect(openFile).NotTo(LeakSockets(fds.Within(0)))
	g.Expect(openFile).To(LeakFileDescriptors(fds.Within(0)))

	m := LeakFileDescriptors(fds.Within(0))
	ok, err := m.Match(openFile)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(ok).To(BeTrue())
	g.Expect(m.NegatedFailureMessage(nil)).To(HavePrefix(
		"Expected the block not to leak file descriptors.\nThe block left 1 file descriptor open:\n\nfd "))
	g.Expect(m.NegatedFailureMessage(nil)).To(ContainSubstring("device " + os.DevNull))
}

func TestLeakSocketsRejectsWhatIsNotABlock(t *testing.T) {
	for _, actual := range []any{nil, 42, func(int) {}} {
		_, err := LeakSockets().Match(actual)
		if err == nil || !strings.Contains(err.Error(), "LeakSockets expects a block of type func()") {
			t.Errorf("Match(%T): err %v", actual, err)
		}
	}
	_, err := LeakFileDescriptors().Match(func() { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "LeakFileDescriptors") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("panic: err %v", err)
	}
}

func TestLeakSocketsInParallelTestsJudgesEachApart(t *testing.T) {
	t.Run("group", func(t *testing.T) {
		for i := range 6 {
			t.Run(fmt.Sprint("spec", i), func(t *testing.T) {
				t.Parallel()
				var ln net.Listener
				m := LeakSockets(fds.Within(50 * time.Millisecond))
				ok, err := m.Match(func() {
					l, _ := net.Listen("tcp", "127.0.0.1:0")
					time.Sleep(20 * time.Millisecond) // overlap with the others
					if i%2 == 0 {
						ln = l
						return
					}
					l.Close()
				})
				if ln != nil {
					defer ln.Close()
				}
				if err != nil {
					t.Fatal(err)
				}
				if ok != (i%2 == 0) {
					t.Fatalf("spec %d: verdict %v:\n%s", i, ok, m.NegatedFailureMessage(nil))
				}
				if ok && !strings.Contains(m.NegatedFailureMessage(nil), "The block left 1 socket open") {
					t.Fatalf("spec %d:\n%s", i, m.NegatedFailureMessage(nil))
				}
			})
		}
	})
}
