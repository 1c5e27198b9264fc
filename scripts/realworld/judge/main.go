// Command judge is the Go half of scripts/realworld/run: it rewrites a
// module's tests to use residue instead of goleak, and it compares what
// residue reported over the module's test suite with the triage file.
//
//	judge rewrite [-skip FILE,...] DIR
//	judge report -module NAME -mode plain|race -base BASE.json -residue RESIDUE.json -triage FILE [-out FINDINGS.tsv] [-rerun DIR]
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "rewrite":
		fs := flag.NewFlagSet("rewrite", flag.ExitOnError)
		skip := fs.String("skip", "", "comma-separated test files, relative to DIR, to leave as they are")
		fs.Parse(os.Args[2:])
		if fs.NArg() != 1 {
			usage()
		}
		var skips []string
		if *skip != "" {
			skips = strings.Split(*skip, ",")
		}
		n, err := rewrite(fs.Arg(0), skips)
		if err != nil {
			fmt.Fprintln(os.Stderr, "judge rewrite:", err)
			os.Exit(1)
		}
		fmt.Printf("rewrote %d test files\n", n)
	case "report":
		os.Exit(report(os.Args[2:]))
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: judge rewrite [-skip FILE,...] DIR | judge report -module NAME -mode plain|race -base FILE -residue FILE -triage FILE [-out FILE] [-times FILE -wall B,R] [-rerun DIR]")
	os.Exit(2)
}
