// Command mtlsctl is a PKI toolkit for mutual TLS with Cloudflare Access.
package main

import (
	"os"

	"github.com/mtlsctl/mtlsctl/commands"
)

func main() {
	os.Exit(commands.Run(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
