package clidoc

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

const testExitCodes = `EXIT CODES:
   0  success
   2  nothing changed`

// nastyApp has help text that roff and Markdown would misread if it were
// not escaped, and parts the reference must leave out.
func nastyApp() *cli.App {
	return &cli.App{
		Name:  "tool",
		Usage: "does things",
		Description: `Intro line.
.dot at the start of a line
'apostrophe at the start
C:\path and a*b*c and <b>html</b> and [link](x) and 100% & more… _emph_
- not a list
--out at the start is no list either
1. not a list
# not a heading

--mode a     a table's first row
--mode b     a row that wraps
             with a hanging indent

EXAMPLES:
   tool sub --out x.txt    # a comment
   .not a request
   a ` + "```" + ` fence inside
~~~ not a fence

` + testExitCodes,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Usage: "talk more (see TOOL_TRACE too)"},
		},
		Commands: []*cli.Command{{
			Name:      "sub",
			Usage:     "a subcommand",
			ArgsUsage: "[FILE...]",
			Description: `Does the sub thing.

` + testExitCodes,
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Value: "a.txt", EnvVars: []string{"TOOL_OUT"}, Usage: "write to `FILE`"},
				&cli.StringSliceFlag{Name: "tag", Usage: "a tag"},
				&cli.StringFlag{Name: "secret-flag", Hidden: true, Usage: "never shown"},
			},
		}, {
			Name:   "secret-command",
			Hidden: true,
			Usage:  "never shown",
		}},
	}
}

func TestMarkdownEscapes(t *testing.T) {
	md := string(Markdown(nastyApp(), Options{ExitCodes: testExitCodes}))
	for _, want := range []string{
		`C:\\path and a\*b\*c and \<b\>html\</b\> and \[link\](x) and 100% \& more… \_emph\_`,
		"\n\\- not a list\n--out at the start is no list either\n", "\n1\\. not a list\n", "\n\\# not a heading\n",
		"````\ntool sub --out x.txt    # a comment\n.not a request\na ``` fence inside\n````",
		"\n\\~~~ not a fence\n",
		"```\ntool sub [options] [FILE...]\n```",
		"- `--out FILE`, `-o FILE`: write to FILE (default: \"a.txt\"; environment: $TOOL_OUT)",
		"- `--tag value`: a tag (repeatable)",
		"- `TOOL_OUT`: the value of --out when it is not given (sub)",
		"- `TOOL_TRACE`: named in the help of the global options",
		"```\n--mode a     a table's first row\n--mode b     a row that wraps\n             with a hanging indent\n```",
		"## Exit codes",
		"- [sub](#tool-sub): a subcommand",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	checkLeftOut(t, md)
}

func TestManEscapes(t *testing.T) {
	man := string(Man(nastyApp(), Options{ExitCodes: testExitCodes}))
	for _, want := range []string{
		".TH TOOL 1 ",
		".SH NAME\ntool \\- does things\n",
		"\n\\&.dot at the start of a line\n",
		"\n\\&'apostrophe at the start\n",
		`C:\epath`, `more\[u2026]`,
		"\n.nf\ntool sub \\-\\-out x.txt    # a comment\n\\&.not a request\na ``` fence inside\n.fi\n",
		".TP\n\\fB\\-\\-out\\fR \\fIFILE\\fR, \\fB\\-o\\fR \\fIFILE\\fR\nwrite to FILE (default: \"a.txt\"; environment: $TOOL_OUT)\n",
		".SH ENVIRONMENT\n", ".SH \"EXIT STATUS\"\n",
	} {
		if !strings.Contains(man, want) {
			t.Errorf("man page lacks %q:\n%s", want, man)
		}
	}
	if strings.Contains(man, "\n\n") {
		t.Error("man page has a blank line, a stray break in roff")
	}
	checkLeftOut(t, man)
}

// checkLeftOut: hidden parts stay out, and the exit-code table, which
// every description repeats, is printed once.
func checkLeftOut(t *testing.T, doc string) {
	t.Helper()
	for _, gone := range []string{"never shown", "secret"} {
		if strings.Contains(doc, gone) {
			t.Errorf("hidden %q shows", gone)
		}
	}
	if n := strings.Count(doc, "nothing changed"); n != 1 {
		t.Errorf("the exit-code table shows %d times, want once", n)
	}
}

// The man pages are valid roff: groff, with every warning on, says nothing
// about the one in docs/ (which TestCLIReferenceIsCurrent in package
// commands keeps current) nor about one made of awkward text.
func TestManPageRenders(t *testing.T) {
	groff := requireGroff(t)
	for name, page := range map[string][]byte{
		"docs/mtlsctl.1": nil,
		"awkward text":   Man(nastyApp(), Options{ExitCodes: testExitCodes}),
	} {
		cmd := exec.Command(groff, "-man", "-ww", "-z")
		if page == nil {
			cmd.Args = append(cmd.Args, "../../../docs/mtlsctl.1")
		} else {
			cmd.Stdin = bytes.NewReader(page)
		}
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff -man -ww -z, %s: %v\n%s", name, err, out)
		}
	}
}

// requireGroff finds groff: skipped where it is missing, a failure under
// CI (which installs it).
func requireGroff(t *testing.T) string {
	t.Helper()
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("groff is not installed; .ci/run installs it (Debian's groff-base)")
		}
		t.Skip("groff is not installed (Debian's groff-base): the man page is not checked")
	}
	return groff
}
