// Command gendocs writes mtlsctl's CLI reference and man page; it is run
// by "go generate ./..." from package commands.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mtlsctl/mtlsctl/commands"
)

func main() {
	md := flag.String("md", "", "write the Markdown reference to `FILE`")
	man := flag.String("man", "", "write the man page to `FILE`")
	flag.Parse()
	if *md == "" || *man == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: gendocs -md FILE -man FILE")
		os.Exit(2)
	}
	markdown, page := commands.Reference()
	for path, data := range map[string][]byte{*md: markdown, *man: page} {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}
