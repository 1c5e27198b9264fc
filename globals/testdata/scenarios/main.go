// Command scenarios runs one block, named by its argument, under
// globals.Find as the first thing the process does, and prints the report.
// The globals tests build it with debug info and without.
package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/gob"
	"encoding/json"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"io"
	"log"
	mathrand "math/rand"
	randv2 "math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/template"
	"time"

	"github.com/residue-go/residue/globals"
)

// Variables of this package, changed by the recall scenarios.
type settings struct {
	Timeout time.Duration
	retries int
}

var (
	userMap      = map[string]int{"a": 1}
	userSlice    = []string{"x"}
	userSettings = settings{Timeout: 5 * time.Second}
	userPointer  = &settings{retries: 1}
)

// spareEntry is the element of userSpare, never converted to an interface.
type spareEntry struct{ n int }

var userSpare []spareEntry

var scenarioFlag = flag.String("residue-scenario-flag", "off", "set by a recall scenario")

type gobPayload struct{ N int }

// A package's own random generators, as a client's retry jitter keeps one:
// drawing from them advances their state.
var (
	pkgRand   = mathrand.New(mathrand.NewSource(1))
	pkgPCG    = randv2.New(randv2.NewPCG(1, 2))
	pkgChaCha = randv2.New(randv2.NewChaCha8([32]byte{1}))
)

// gobFresh is encoded by one clean scenario only.
type gobFresh struct {
	Name string
	Tags []string
}

type fakeDriver struct{}

func (fakeDriver) Open(string) (driver.Conn, error) { return nil, errors.New("fake") }

// clean are stdlib-heavy blocks that change no program state, though they
// fill lazy caches when they run first in a process.
var clean = map[string]func(){
	"encoding/json round trip": func() {
		b, err := json.Marshal(map[string]any{"name": "x", "list": []int{1, 2}, "s": settings{Timeout: time.Second}})
		if err != nil {
			panic(err)
		}
		var back struct {
			Name string
			List []int
		}
		if err := json.Unmarshal(b, &back); err != nil {
			panic(err)
		}
	},
	"regexp compile and match": func() {
		re := regexp.MustCompile(`^(\w+)@(\w+)\.com$`)
		if !re.MatchString("a@b.com") {
			panic("no match")
		}
		_ = re.FindAllStringSubmatch("a@b.com c@d.com", -1)
	},
	"text/template execute": func() {
		t := template.Must(template.New("t").Funcs(template.FuncMap{"up": strings.ToUpper}).Parse(`{{range .}}{{up .}} {{len .}}{{end}}`))
		if err := t.Execute(io.Discard, []string{"a", "bc"}); err != nil {
			panic(err)
		}
	},
	"fmt": func() {
		_ = fmt.Sprintf("%v %d %q %x %+v", 1.5, 42, "s", []byte("ab"), settings{})
		fmt.Fprintln(io.Discard, "a", 1, true)
		_, _ = fmt.Sscanf("7 x", "%d %s", new(int), new(string))
	},
	"strconv": func() {
		_, _ = strconv.ParseFloat("3.25", 64)
		_ = strconv.Quote("héllo\n")
		_, _ = strconv.Atoi("x")
		_ = strconv.FormatFloat(1e21, 'g', -1, 64)
	},
	"sort": func() {
		xs := []int{3, 1, 2}
		sort.Ints(xs)
		ss := []string{"b", "a"}
		sort.Strings(ss)
		slices.Sort(xs)
		sort.Slice(ss, func(i, j int) bool { return ss[i] > ss[j] })
	},
	"time formatting": func() {
		now := time.Now()
		_ = now.Format(time.RFC3339Nano)
		_ = now.UTC().Format(time.Kitchen)
		_, _ = time.Parse(time.RFC1123, "Mon, 02 Jan 2006 15:04:05 MST")
		_, _ = time.ParseDuration("1h2m")
		_ = time.Since(now).String()
	},
	"crypto/elliptic curve parameters": func() {
		p := elliptic.P256().Params()
		if !elliptic.P256().IsOnCurve(p.Gx, p.Gy) || elliptic.P384().Params().BitSize != 384 {
			panic("crypto/elliptic")
		}
	},
	// Stop leaves os/signal's handlers.stopping empty but with spare
	// capacity: a slice DWARF records as a struct of array, len and cap.
	// The same in a user package, for a slice type the linker kept no
	// run-time descriptor of (spareEntry never goes into an interface).
	"user package slice left empty with spare capacity": func() {
		userSpare = append(userSpare, spareEntry{n: 1})
		userSpare = userSpare[:0]
	},
	"signal.Notify and Stop": func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGUSR2)
		signal.Stop(c)
	},
	"crypto/ecdsa sign and verify":               ecdsaSignVerify,
	"crypto/ed25519 sign and verify":             ed25519SignVerify,
	"HTTPS round trip to an httptest TLS server": httpsRoundTrip,
	"HTTP round trip to an httptest server": func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "hello")
		}))
		defer srv.Close()
		resp, err := http.Get(srv.URL)
		if err != nil {
			panic(err)
		}
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	},
	"mime type lookup": func() {
		// The first use loads mime's built-in types and the system's
		// mime.types files, under a sync.Once.
		_ = mime.TypeByExtension(".html")
		_, _ = mime.ExtensionsByType("text/html")
	},
	"net.Interfaces": func() {
		// Fetches the interfaces' names and indexes into net's zone
		// cache, every time.
		_, _ = net.Interfaces()
	},
	"drawing from a package's own random generators": func() {
		_ = pkgRand.Int63n(1000) + pkgPCG.Int64N(1000) + pkgChaCha.Int64N(1000)
	},
	"gob encoding of a type not encoded before": func() {
		// gob gives each type it meets an id, once and for good, in
		// tables of its own (encoding/gob.idToTypeSlice and others).
		var b bytes.Buffer
		if err := gob.NewEncoder(&b).Encode(gobFresh{Name: "x", Tags: []string{"a"}}); err != nil {
			panic(err)
		}
		var out gobFresh
		if err := gob.NewDecoder(&b).Decode(&out); err != nil {
			panic(err)
		}
	},
	"net.LookupHost of localhost": func() {
		// Reads /etc/hosts, /etc/nsswitch.conf and /etc/resolv.conf into
		// net's caches, which it checks again every few seconds.
		_, _ = net.LookupHost("localhost")
	},
}

// ecdsaSignVerify signs with a new key: crypto/ecdsa caches the key's
// FIPS form (privateKeyCache), and the first use of a curve fills
// crypto/elliptic's curve parameters.
func ecdsaSignVerify() {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256([]byte("residue"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil || !ecdsa.VerifyASN1(&key.PublicKey, sum[:], sig) {
		panic(fmt.Sprint("crypto/ecdsa: ", err))
	}
}

// ed25519SignVerify signs with a new key: crypto/ed25519 caches the key's
// FIPS form (privateKeyCache).
func ed25519SignVerify() {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	sig := ed25519.Sign(priv, []byte("residue"))
	if !ed25519.Verify(pub, []byte("residue"), sig) {
		panic("crypto/ed25519")
	}
}

// httpsRoundTrip makes a TLS connection: the client keeps the server's
// parsed certificate in crypto/tls's globalCertCache.
func httpsRoundTrip() {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "hello")
	}))
	defer srv.Close()
	client := srv.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(srv.URL)
	if err != nil {
		panic(err)
	}
	_, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
}

// recall are blocks that change global state, each with the variable the
// report must name.
var recall = []struct {
	name, variable string
	block          func()
}{
	{"mime.AddExtensionType", "mime.mimeTypes", func() { _ = mime.AddExtensionType(".residue", "text/x-residue") }},
	{"http.HandleFunc on DefaultServeMux", "net/http.DefaultServeMux", func() {
		http.HandleFunc("/residue-hello", func(http.ResponseWriter, *http.Request) {})
	}},
	{"gob.Register", "encoding/gob.nameToConcreteType", func() { gob.Register(gobPayload{}) }},
	{"replacing a package's random generator", "main.pkgRand", func() { pkgRand = mathrand.New(mathrand.NewSource(2)) }},
	{"flag.Set on the default FlagSet", "flag.CommandLine", func() { _ = flag.Set("residue-scenario-flag", "on") }},
	{"log.SetPrefix", "log.std", func() { log.SetPrefix("residue: ") }},
	{"sql.Register", "database/sql.drivers", func() { sql.Register("residue-fake", fakeDriver{}) }},
	{"expvar.NewInt", "expvar.vars", func() { expvar.NewInt("residue_hits").Add(1) }},
	{"os.Setenv", "environment", func() { _ = os.Setenv("RESIDUE_SCENARIO_VAR", "1") }},
	{"os.Chdir", "working directory", func() { _ = os.Chdir(os.TempDir()) }},
	{"os.Args", "os.Args", func() { os.Args = append(os.Args, "-extra") }},
	{"user package map", "main.userMap", func() { userMap["b"] = 2 }},
	{"user package slice", "main.userSlice", func() { userSlice = append(userSlice, "y") }},
	{"user package struct field", "main.userSettings", func() { userSettings.Timeout = 10 * time.Second }},
	{"user package pointer", "main.userPointer", func() { userPointer.retries++ }},
	{"user package map beside the crypto caches", "main.userMap", func() {
		ecdsaSignVerify()
		ed25519SignVerify()
		httpsRoundTrip()
		userMap["b"] = 2
	}},
}

// guarded is a map its owner writes under guardedMu from a goroutine that
// runs before, during and after the blocks that are checked.
var (
	guardedMu sync.Mutex
	guarded   = map[int]string{}
	writes    atomic.Int64
)

func writeGuarded() {
	for i := 0; ; i++ {
		guardedMu.Lock()
		guarded[i%5000] = strconv.Itoa(i)
		if i%3 == 0 {
			delete(guarded, (i+2500)%5000)
		}
		guardedMu.Unlock()
		writes.Add(1)
	}
}

func scenario(name string) func() {
	if name == "watching without debug info" {
		return func() { userMap["b"] = 2 }
	}
	if name == "map written by another goroutine" {
		go writeGuarded()
		return func() {
			start := writes.Load()
			for i := 0; i < 20 || writes.Load() < start+10000; i++ {
				if _, err := globals.Find(func() {}, globals.InPackages("main")); err != nil {
					panic(err)
				}
			}
		}
	}
	if b, ok := clean[name]; ok {
		return b
	}
	for _, r := range recall {
		if r.name == name {
			return r.block
		}
	}
	return nil
}

// main runs the block named by its argument under globals.Find, as the first
// thing the process does, and prints each change as
// "CHANGE\t<variable>\t<line>", then the report.
func main() {
	os.Exit(run(os.Args[1]))
}

func run(name string) int {
	block := scenario(name)
	if block == nil {
		fmt.Println("no scenario", name)
		return 2
	}
	var opts []globals.Option
	if name == "watching without debug info" {
		opts = append(opts, globals.Watching(&userMap))
	}
	report, err := globals.Find(block, opts...)
	if err != nil {
		fmt.Println("ERROR:", err)
		return 2
	}
	for _, c := range report.Changes {
		fmt.Printf("CHANGE\t%s\t%s\n", c.Variable, c)
	}
	fmt.Println("REPORT")
	fmt.Println(report)
	return 0
}
