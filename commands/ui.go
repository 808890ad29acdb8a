package commands

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/fatih/color"
	"github.com/mattn/go-isatty"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// ui owns the two output streams. Colors are used only when the stream is
// a terminal and NO_COLOR is unset or empty (no-color.org: "present and
// not an empty string"); JSON output is never colored.
type ui struct {
	out, err   io.Writer
	outColor   bool
	errColor   bool
	pendingErr error // set by callbacks that cannot return an error
	// signalStops: the command's normal end is a signal (serve), so an
	// interruption is nothing to report.
	signalStops bool
	hints       *hintContext // completes the commands hints name (hintflags.go)
}

func newUI(stdout, stderr io.Writer) *ui {
	noColor := noColorSet(os.LookupEnv("NO_COLOR"))
	return &ui{
		out:      stdout,
		err:      stderr,
		outColor: !noColor && isTerminal(stdout),
		errColor: !noColor && isTerminal(stderr),
	}
}

// noColorSet: NO_COLOR disables color when present and not empty, as
// no-color.org says; NO_COLOR= (set, empty) leaves color on.
func noColorSet(value string, present bool) bool { return present && value != "" }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func (u *ui) disableColor() { u.outColor, u.errColor = false, false }

func paint(enabled bool, attr color.Attribute, s string) string {
	c := color.New(attr)
	if enabled {
		c.EnableColor()
	} else {
		c.DisableColor()
	}
	return c.Sprint(s)
}

// Warnings, notes and errors carry text from files (names, file names,
// CNs): each line is escaped so no control byte reaches the terminal.
func (u *ui) warn(format string, args ...any) {
	fmt.Fprintf(u.err, "mtlsctl: %s %s\n", paint(u.errColor, color.FgYellow, "warning:"), x509text.Printable(u.hints.complete(fmt.Sprintf(format, args...))))
}

func (u *ui) note(format string, args ...any) {
	fmt.Fprintf(u.err, "mtlsctl: note: %s\n", x509text.Printable(u.hints.complete(fmt.Sprintf(format, args...))))
}

// reportError prints err as one line, plus a hint line when the fix is
// knowable, and returns the exit code for it.
func (u *ui) reportError(err error) int {
	msg := strings.TrimSpace(err.Error())
	// One line: a multi-line message from a library is folded.
	msg = x509text.Printable(strings.Join(strings.Fields(strings.ReplaceAll(msg, "\n", " ")), " "))
	var problems *problemsFound
	if errors.As(err, &problems) {
		fmt.Fprintf(u.err, "mtlsctl: %s\n", msg)
		return ExitProblems
	}
	fmt.Fprintf(u.err, "mtlsctl: %s %s\n", paint(u.errColor, color.FgRed, "error:"), msg)
	if hint := u.hints.whereIsTheCA(err, u.hints.render(pkix.HintOf(err))); hint != "" {
		fmt.Fprintf(u.err, "mtlsctl: hint: %s\n", x509text.Printable(hint))
	}
	return exitCode(err)
}

func (u *ui) printJSON(v any) error {
	enc := json.NewEncoder(u.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// checkMarks are the marks of check's table, by level.
var checkMarks = map[string]struct {
	sym   string
	color color.Attribute
}{"ok": {"✓", color.FgGreen}, "warn": {"!", color.FgYellow}, "urgent": {"!!", color.FgRed}, "expired": {"✗", color.FgRed}}

// printExpiryTable prints check's table. The mark is padded, then colored,
// outside the tabwriter, which would count the color codes as width and
// shift the header. Names and CNs come from certificates: what is not
// printable in them is escaped.
func (u *ui) printExpiryTable(items []inventory.ExpiryItem) {
	marks, width := []string{""}, 0
	var table strings.Builder
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LEFT\tEXPIRES\tKIND\tNAME\tCN\tNOTE")
	for _, it := range items {
		marks = append(marks, it.Level)
		width = max(width, utf8.RuneCountInString(checkMarks[it.Level].sym))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", it.Left, it.Expires.Format("2006-01-02"), it.Kind, x509text.Printable(it.Name), x509text.Printable(orDash(it.CN)), it.Note)
	}
	tw.Flush()
	for i, line := range strings.Split(strings.TrimSuffix(table.String(), "\n"), "\n") {
		mark := strings.Repeat(" ", width) // the header's
		if m, ok := checkMarks[marks[i]]; ok {
			mark = paint(u.outColor, m.color, fmt.Sprintf("%-*s", width, m.sym))
		}
		fmt.Fprintf(u.out, "%s  %s\n", mark, line)
	}
}
