package commands

//go:generate go run ./internal/gendocs -md ../docs/cli.md -man ../docs/mtlsctl.1

import (
	"io"

	"github.com/mtlsctl/mtlsctl/commands/internal/clidoc"
)

// Reference renders the command tree as the CLI reference (docs/cli.md)
// and the man page (docs/mtlsctl.1), from the same help texts that
// --help prints.
func Reference() (markdown, man []byte) {
	app := newApp(newUI(io.Discard, io.Discard), nil)
	opts := clidoc.Options{ExitCodes: exitCodeHelp}
	return clidoc.Markdown(app, opts), clidoc.Man(app, opts)
}
