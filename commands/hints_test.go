package commands

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// hintCommand finds the commands a hint, note or warning names: inside
// single quotes, or after a colon to the end of the line.
var hintCommand = regexp.MustCompile(`'(mtlsctl [^']*)'|: (mtlsctl [^'\n]*)$`)

// missingCA is what a pasted command says when it runs where no CA is:
// the mistake that sent users to 'ca init' and a second CA.
var missingCA = regexp.MustCompile(`ca-config\.json: no such file|ca\.pem: no such file|run 'mtlsctl ca init'|no CA in |has no inventory yet`)

// runhints runs, through the shell and from the script's working
// directory, every command the previous command's stdout and stderr name
// (as printed, quotes and all), and fails if one of them fails for want
// of a CA or if none was named. "runhints N" expects N commands.
func cmdRunHints(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) > 1 {
		ts.Fatalf("usage: runhints [COUNT]")
	}
	var cmds []string
	for _, line := range strings.Split(ts.ReadFile("stdout")+ts.ReadFile("stderr"), "\n") {
		for _, m := range hintCommand.FindAllStringSubmatch(line, -1) {
			cmds = append(cmds, m[1]+m[2])
		}
	}
	if len(cmds) == 0 || (len(args) == 1 && args[0] != strconv.Itoa(len(cmds))) {
		ts.Fatalf("found %d commands in the output, want %v: %q", len(cmds), args, cmds)
	}
	for _, cmd := range cmds {
		ts.Logf("running the hint: %s", cmd)
		err := ts.Exec("sh", "-c", cmd)
		out := ts.ReadFile("stdout") + ts.ReadFile("stderr")
		if missingCA.MatchString(out) {
			ts.Fatalf("%s: failed for want of a CA (%v):\n%s", cmd, err, out)
		}
		if err != nil {
			ts.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
}
