// Command smallmux registers a route on http.DefaultServeMux under
// globals.Find and prints the report: a program this small links no
// run-time type for http.ServeMux, whose layout then comes from DWARF.
package main

import (
	"fmt"
	"net/http"

	"github.com/residue-go/residue/globals"
)

func hello(http.ResponseWriter, *http.Request) {}

func main() {
	r, err := globals.Find(func() { http.HandleFunc("/small", hello) }, globals.InPackages("net/http"))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	fmt.Print(r)
}
