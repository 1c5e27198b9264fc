// Command corpus runs, as the first thing the process does, the work of the
// runnable examples of one standard-library package, named by its argument,
// under globals.Find with default options, and prints the report. Only
// blocks that set global state on purpose may be reported; the globals
// tests list those.
package main

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"container/heap"
	"container/list"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"hash/crc32"
	htmltemplate "html/template"
	"io"
	"io/fs"
	"log"
	"log/slog"
	"maps"
	"math/big"
	mathrand "math/rand"
	"math/rand/v2"
	"mime"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/residue-go/residue/globals"
)

type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	n := len(old)
	x := old[n-1]
	*h = old[:n-1]
	return x
}

type person struct {
	Name string `json:"name" xml:"name"`
	Age  int    `json:"age" xml:"age,attr"`
}

var errNotFound = errors.New("not found")

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

var blocks = map[string]func(){
	"strings": func() {
		_ = strings.Fields(" foo bar  baz ")
		_ = strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace("<b>x</b>")
		_ = strings.Map(func(r rune) rune { return unicode.ToUpper(r) }, "abc")
		_ = strings.EqualFold("Go", "GO")
		_ = strings.Title("her royal highness")
		var b strings.Builder
		fmt.Fprintf(&b, "%d...", 3)
		_ = strings.SplitN("a,b,c", ",", 2)
	},
	"bytes": func() {
		var buf bytes.Buffer
		buf.WriteString("hello ")
		buf.Write([]byte("world"))
		_ = bytes.ToUpper(buf.Bytes())
		_ = bytes.Compare([]byte("a"), []byte("b"))
		_ = bytes.Fields([]byte(" a b "))
		_ = bytes.NewReader([]byte("x")).Len()
	},
	"strconv": func() {
		_ = strconv.AppendQuote(nil, `"Fran & Freddie's Diner"`)
		_, _ = strconv.ParseInt("-354634382", 10, 32)
		_, _ = strconv.ParseFloat("NaN", 64)
		_ = strconv.FormatInt(-42, 16)
		_, _ = strconv.Unquote("'☺'")
		_ = strconv.QuoteToASCII("☺\n")
	},
	"fmt": func() {
		_ = fmt.Sprintf("%[2]d %[1]d %v %+v %#v %T", 11, 22, person{"a", 1}, &person{"b", 2}, []string{"x"}, 1.5)
		_ = fmt.Errorf("wrap: %w", errNotFound)
		var a, b int
		_, _ = fmt.Sscan("3 4", &a, &b)
		fmt.Fprint(io.Discard, 1, "x", 2.5)
	},
	"encoding/json": func() {
		b := must(json.Marshal([]person{{"Alice", 30}}))
		var ps []person
		_ = json.Unmarshal(b, &ps)
		dec := json.NewDecoder(strings.NewReader(`{"name":"x"} {"name":"y"}`))
		for {
			var p person
			if err := dec.Decode(&p); err != nil {
				break
			}
		}
		var out bytes.Buffer
		_ = json.Indent(&out, b, "", "\t")
		_ = json.Valid(b)
		var raw map[string]any
		_ = json.Unmarshal([]byte(`{"a":[1,2,{"b":null}]}`), &raw)
	},
	"encoding/base64": func() {
		s := base64.StdEncoding.EncodeToString([]byte("hello"))
		_, _ = base64.StdEncoding.DecodeString(s)
		_ = base64.URLEncoding.EncodeToString([]byte("?&"))
		enc := base64.NewEncoder(base64.RawStdEncoding, io.Discard)
		_, _ = enc.Write([]byte("x"))
		_ = enc.Close()
	},
	"encoding/hex": func() {
		_ = hex.EncodeToString([]byte("Hello"))
		_, _ = hex.DecodeString("48656c6c6f")
		_ = hex.Dump([]byte("1234567890abcdef"))
	},
	"encoding/csv": func() {
		r := csv.NewReader(strings.NewReader("first,last\n\"Rob\",\"Pike\"\n"))
		_, _ = r.ReadAll()
		w := csv.NewWriter(io.Discard)
		_ = w.WriteAll([][]string{{"a", "b"}, {"c", "d"}})
	},
	"encoding/xml": func() {
		b := must(xml.MarshalIndent(person{"Bob", 3}, "", "  "))
		var p person
		_ = xml.Unmarshal(b, &p)
		d := xml.NewDecoder(strings.NewReader(`<a><b x="1">t</b></a>`))
		for {
			if _, err := d.Token(); err != nil {
				break
			}
		}
	},
	"regexp": func() {
		re := regexp.MustCompile(`a(x*)b`)
		_ = re.ReplaceAllString("-ab-axxb-", "${1}W")
		_ = re.FindAllStringSubmatchIndex("-ab-axxb-", -1)
		_, _ = regexp.MatchString(`^[a-z]+\[[0-9]+\]$`, "adam[23]")
		_ = regexp.MustCompile(`(?i)\bgo\b`).Split("go Go GO", -1)
		_ = regexp.QuoteMeta("1.5-2.0?")
	},
	"sort": func() {
		people := []person{{"a", 3}, {"b", 1}}
		sort.Slice(people, func(i, j int) bool { return people[i].Age < people[j].Age })
		sort.SliceStable(people, func(i, j int) bool { return people[i].Name < people[j].Name })
		xs := []int{5, 2, 6}
		sort.Sort(sort.Reverse(sort.IntSlice(xs)))
		_ = sort.SearchInts([]int{1, 3, 5}, 3)
	},
	"slices": func() {
		xs := []int{3, 1, 2}
		slices.Sort(xs)
		_, _ = slices.BinarySearch(xs, 2)
		_ = slices.Index(xs, 3)
		xs = slices.Insert(xs, 1, 9)
		_ = slices.Compact([]int{1, 1, 2})
		_ = slices.Collect(slices.Values(xs))
	},
	"maps": func() {
		m := map[string]int{"a": 1, "b": 2}
		_ = slices.Sorted(maps.Keys(m))
		m2 := maps.Clone(m)
		maps.DeleteFunc(m2, func(k string, v int) bool { return v > 1 })
		_ = maps.Equal(m, m2)
	},
	"time": func() {
		t := time.Date(2009, time.November, 10, 23, 0, 0, 0, time.UTC)
		_ = t.Format(time.RFC1123)
		_, _ = time.Parse("2006-01-02", "2013-02-03")
		_ = t.Add(90 * time.Minute).Truncate(time.Hour)
		_, _ = time.ParseDuration("1h15m30.918273645s")
		loc := time.FixedZone("UTC-8", -8*60*60)
		_ = t.In(loc).String()
		_ = time.Since(t).Round(time.Hour)
		tm := time.NewTimer(time.Millisecond)
		<-tm.C
	},
	"time.LoadLocation": func() {
		loc, err := time.LoadLocation("America/New_York")
		if err == nil {
			_ = time.Date(2020, 1, 1, 0, 0, 0, 0, loc).String()
		}
		_ = time.Now().Local().String()
	},
	"path": func() {
		_ = path.Join("a", "b/../c", "/d")
		_ = path.Clean("a//b/./c/..")
		_, _ = path.Match("*.go", "x.go")
		_, _ = path.Split("static/myfile.css")
	},
	"path/filepath": func() {
		_ = filepath.Join("a", "b")
		_, _ = filepath.Rel("/a", "/a/b/c")
		_ = filepath.Ext("x.tar.gz")
		_, _ = filepath.Abs(".")
		_ = filepath.WalkDir(os.TempDir(), func(string, fs.DirEntry, error) error { return filepath.SkipAll })
		_, _ = filepath.Glob(filepath.Join(os.TempDir(), "*residue-none*"))
	},
	"net/url": func() {
		u := must(url.Parse("https://user:pass@example.com:8080/p/a/t/h?query=string#hash"))
		_ = u.Query().Get("query")
		_ = u.ResolveReference(must(url.Parse("../x"))).String()
		v := url.Values{}
		v.Set("name", "Ava")
		v.Add("friend", "Jess")
		_ = v.Encode()
		_ = url.PathEscape("a b")
		_, _ = url.QueryUnescape("a%20b")
	},
	"net/netip": func() {
		p := netip.MustParsePrefix("10.0.0.0/8")
		_ = p.Contains(netip.MustParseAddr("10.1.2.3"))
		a := netip.MustParseAddr("fe80::1%eth0")
		_ = a.Zone()
		_ = netip.MustParseAddrPort("[::1]:80").String()
		_ = a.Unmap().Is6()
	},
	"mime": func() {
		_ = mime.TypeByExtension(".html")
		_, _ = mime.ExtensionsByType("image/png")
		_, _, _ = mime.ParseMediaType("text/html; charset=utf-8")
		_ = mime.FormatMediaType("text/html", map[string]string{"charset": "utf-8"})
		_ = mime.QEncoding.Encode("utf-8", "¡Hola, señor!")
		_, _ = new(mime.WordDecoder).DecodeHeader("=?utf-8?q?=C2=A1Hola,_se=C3=B1or!?=")
	},
	"text/template": func() {
		t := template.Must(template.New("letter").Funcs(template.FuncMap{"title": strings.ToUpper}).Parse(
			`Dear {{.Name | title}},{{if .Age}} age {{.Age}}{{end}}{{range $i, $e := .Tags}}{{$i}}={{$e}}{{end}}`))
		_ = t.Execute(io.Discard, map[string]any{"Name": "x", "Age": 3, "Tags": []string{"a"}})
	},
	"html/template": func() {
		t := htmltemplate.Must(htmltemplate.New("foo").Parse(`<a href="/search?q={{.}}">{{.}}</a><script>var x = {{.}};</script>`))
		_ = t.Execute(io.Discard, `O'Reilly: How are <i>you</i>?`)
		_ = htmltemplate.HTMLEscapeString("<b>")
	},
	"unicode/utf8": func() {
		b := []byte("Hello, 世界")
		for len(b) > 0 {
			_, size := utf8.DecodeRune(b)
			b = b[size:]
		}
		_ = utf8.RuneCountInString("Hello, 世界")
		_ = utf8.ValidString("a\xffb")
		_ = utf8.AppendRune(nil, '世')
	},
	"math/big": func() {
		a := new(big.Int)
		a.SetString("218882428718392752222464057452572750886963111572978236626890378946452262", 10)
		b := big.NewInt(1)
		_ = b.Exp(big.NewInt(2), big.NewInt(100), nil).String()
		_ = new(big.Int).Mul(a, b).Text(16)
		r := big.NewRat(1, 3)
		_ = r.FloatString(5)
		f := new(big.Float).SetPrec(200).SetInt64(2)
		_ = f.Sqrt(f).Text('g', 20)
		_ = big.NewInt(97).ProbablyPrime(20)
	},
	"math/rand/v2": func() {
		_ = rand.IntN(100)
		r := rand.New(rand.NewPCG(1, 2))
		_ = r.Perm(5)
		_ = rand.N(10 * time.Second)
		rand.Shuffle(3, func(i, j int) {})
	},
	"math/rand": func() {
		_ = mathrand.Intn(100)
		_ = mathrand.Float64()
		r := mathrand.New(mathrand.NewSource(99))
		_ = r.Perm(5)
	},
	"crypto/sha256": func() {
		_ = sha256.Sum256([]byte("hello world\n"))
		h := sha256.New()
		_, _ = h.Write([]byte("hello world\n"))
		_ = h.Sum(nil)
	},
	"crypto/hmac": func() {
		mac := hmac.New(sha256.New, []byte("key"))
		mac.Write([]byte("message"))
		_ = hmac.Equal(mac.Sum(nil), mac.Sum(nil))
	},
	"hash/crc32": func() {
		_ = crc32.ChecksumIEEE([]byte("hello world"))
		_ = crc32.Checksum([]byte("hello world"), crc32.MakeTable(crc32.Castagnoli))
		_ = crc32.Update(0, crc32.MakeTable(crc32.Koopman), []byte("x"))
	},
	"compress/gzip": func() {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Name = "a.txt"
		_, _ = zw.Write([]byte("A long time ago in a galaxy far, far away..."))
		_ = zw.Close()
		zr := must(gzip.NewReader(&buf))
		_, _ = io.ReadAll(zr)
		_ = zr.Close()
	},
	"archive/zip": func() {
		var buf bytes.Buffer
		w := zip.NewWriter(&buf)
		f := must(w.Create("readme.txt"))
		_, _ = f.Write([]byte("This archive contains some text files."))
		_ = w.Close()
		r := must(zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len())))
		for _, f := range r.File {
			rc := must(f.Open())
			_, _ = io.ReadAll(rc)
			rc.Close()
		}
	},
	"bufio": func() {
		s := bufio.NewScanner(strings.NewReader("a b\nc d\n"))
		s.Split(bufio.ScanWords)
		for s.Scan() {
			_ = s.Text()
		}
		w := bufio.NewWriter(io.Discard)
		fmt.Fprint(w, "Hello, ")
		_ = w.Flush()
		r := bufio.NewReader(strings.NewReader("line\n"))
		_, _ = r.ReadString('\n')
	},
	"container/list": func() {
		l := list.New()
		e4 := l.PushBack(4)
		e1 := l.PushFront(1)
		l.InsertBefore(3, e4)
		l.InsertAfter(2, e1)
		for e := l.Front(); e != nil; e = e.Next() {
			_ = e.Value
		}
	},
	"container/heap": func() {
		h := &intHeap{2, 1, 5}
		heap.Init(h)
		heap.Push(h, 3)
		for h.Len() > 0 {
			_ = heap.Pop(h)
		}
	},
	"errors": func() {
		err := fmt.Errorf("access denied: %w", errNotFound)
		_ = errors.Is(err, errNotFound)
		var pe *fs.PathError
		_ = errors.As(&fs.PathError{Op: "open", Err: fs.ErrNotExist}, &pe)
		_ = errors.Join(err, errNotFound).Error()
		_ = errors.Unwrap(err)
	},
	"context": func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer cancel()
		<-ctx.Done()
		ctx2, cancel2 := context.WithCancelCause(context.WithValue(context.Background(), "k", "v"))
		cancel2(errNotFound)
		_ = context.Cause(ctx2)
		stop := context.AfterFunc(ctx2, func() {})
		stop()
	},
	"sync": func() {
		var wg sync.WaitGroup
		var mu sync.Mutex
		n := 0
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mu.Lock()
				n++
				mu.Unlock()
			}()
		}
		wg.Wait()
		var once sync.Once
		once.Do(func() {})
		p := sync.Pool{New: func() any { return new(bytes.Buffer) }}
		p.Put(p.Get())
		var m sync.Map
		m.Store("a", 1)
		_ = sync.OnceValue(func() int { return 1 })()
	},
	"log": func() {
		var buf bytes.Buffer
		logger := log.New(&buf, "logger: ", log.Lshortfile)
		logger.Print("Hello, log file!")
		logger.SetPrefix("x: ")
		logger.Printf("%d", 1)
	},
	"log.SetOutput": func() {
		log.SetOutput(io.Discard)
		log.SetFlags(0)
		log.Print("to nowhere")
	},
	"log/slog": func() {
		logger := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
		logger.Info("hello", "count", 3, slog.Group("g", slog.String("a", "b")))
		jl := slog.New(slog.NewJSONHandler(io.Discard, nil)).With("app", "x")
		jl.Warn("careful", "err", errNotFound)
		var lv slog.LevelVar
		lv.Set(slog.LevelWarn)
	},
	"log/slog.SetDefault": func() {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	},
	"io": func() {
		r := strings.NewReader("some io.Reader stream to be read\n")
		_, _ = io.Copy(io.Discard, io.LimitReader(r, 4))
		pr, pw := io.Pipe()
		go func() { fmt.Fprint(pw, "some text"); pw.Close() }()
		_, _ = io.ReadAll(pr)
		_, _ = io.ReadFull(io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")), make([]byte, 4))
		var buf bytes.Buffer
		_, _ = io.Copy(io.MultiWriter(&buf, io.Discard), io.TeeReader(strings.NewReader("x"), io.Discard))
		_ = io.NewSectionReader(strings.NewReader("0123456789"), 2, 4).Size()
	},
	"os": func() {
		_ = os.Getenv("HOME")
		_, _ = os.LookupEnv("RESIDUE_NONE")
		_ = os.ExpandEnv("$HOME/x")
		dir := must(os.MkdirTemp("", "corpus"))
		defer os.RemoveAll(dir)
		f := must(os.CreateTemp(dir, "example"))
		_, _ = f.Write([]byte("content"))
		_ = f.Close()
		_, _ = os.ReadFile(f.Name())
		_ = os.WriteFile(filepath.Join(dir, "x"), []byte("y"), 0o644)
		_, _ = os.ReadDir(dir)
		_, _ = os.Stat(dir)
		_, _ = os.Hostname()
	},
	"os.Setenv": func() { _ = os.Setenv("CORPUS_NAME", "gopher") },
	"text/tabwriter": func() {
		w := tabwriter.NewWriter(io.Discard, 0, 8, 1, '\t', tabwriter.AlignRight)
		fmt.Fprintln(w, "a\tb\tc")
		fmt.Fprintln(w, "aaa\tbbb\tccc")
		_ = w.Flush()
	},
	"unicode": func() {
		_ = unicode.IsUpper('A') && unicode.IsLetter('é') && unicode.Is(unicode.Han, '世')
		_ = unicode.SimpleFold('A')
		_ = unicode.In('x', unicode.Latin, unicode.Greek)
	},
}

func main() {
	name := os.Args[1]
	block, ok := blocks[name]
	if !ok {
		if name == "list" {
			for _, k := range slices.Sorted(maps.Keys(blocks)) {
				fmt.Println(k)
			}
			return
		}
		fmt.Println("no block", name)
		os.Exit(2)
	}
	report, err := globals.Find(block)
	if err != nil {
		fmt.Println("ERROR:", err)
		os.Exit(2)
	}
	for _, c := range report.Changes {
		fmt.Printf("CHANGE\t%s\t%s\n", c.Variable, c)
	}
	fmt.Println("REPORT")
	fmt.Println(report)
}
