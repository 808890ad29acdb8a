package commands

import (
	"bufio"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/fatih/color"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// fileReport is one written file as printed and as in --json.
type fileReport struct {
	Path   string                `json:"path"`
	Kind   string                `json:"kind"`
	Mode   string                `json:"mode"`
	Size   int                   `json:"size"`
	Backup string                `json:"backup,omitempty"`
	Cert   *x509text.CertSummary `json:"certificate,omitempty"`
}

// result is the --json document every writing command prints.
type result struct {
	Command  string                 `json:"command"`
	Files    []fileReport           `json:"files"`
	Cert     *x509text.CertSummary  `json:"certificate,omitempty"`
	CRL      *crlReport             `json:"crl,omitempty"`
	Issued   []x509text.CertSummary `json:"issued,omitempty"`
	Failed   *[]pkidir.Failure      `json:"failed,omitempty"` // set (maybe empty) by batches
	Recorded string                 `json:"inventory,omitempty"`
	Revoked  []inventory.Record     `json:"revoked,omitempty"`
	// NotRevoked: the old certificates renew --revoke-old did not revoke.
	NotRevoked []inventory.Record `json:"not_revoked,omitempty"`
	Warnings   []string           `json:"warnings"`
	Notes      []string           `json:"notes"`
}

func newResult(command string) *result {
	return &result{Command: command, Warnings: []string{}, Notes: []string{}}
}

// addWritten records what is now on disk. The mode is the one the writer
// set with fchmod, so umask cannot have changed it.
func (r *result) addWritten(ws []atomicfile.Written, certs map[string]*x509text.CertSummary) {
	for _, w := range ws {
		r.Files = append(r.Files, fileReport{
			Path: w.Path, Kind: w.Kind, Mode: fmt.Sprintf("%04o", w.Mode), Size: w.Len(),
			Backup: w.Backup, Cert: certs[w.Path],
		})
	}
}

// report prints the result: JSON, or a table of files then warnings.
func (u *ui) report(r *result, asJSON bool) error {
	for i := range r.Notes {
		r.Notes[i] = u.hints.complete(r.Notes[i]) // --json's too
	}
	for i := range r.Warnings {
		r.Warnings[i] = u.hints.complete(r.Warnings[i])
	}
	for _, n := range r.Notes {
		u.note("%s", n)
	}
	for _, w := range r.Warnings {
		u.warn("%s", w)
	}
	if asJSON {
		return u.printJSON(r)
	}
	// A batch prints thousands of lines: buffer them.
	out := bufio.NewWriter(u.out)
	defer out.Flush()
	u = &ui{out: out, err: u.err, outColor: u.outColor, errColor: u.errColor, hints: u.hints}
	if len(r.Files) == 0 {
		return nil // nothing was written: no "wrote 0 files"
	}
	fmt.Fprintf(u.out, "%s %d file%s:\n", paint(u.outColor, color.FgGreen, "wrote"), len(r.Files), map[bool]string{true: "", false: "s"}[len(r.Files) == 1])
	// A fleet's batch is summarised: the first files, then a count
	// (--json lists every one; failures are always printed in full).
	shown := r.Files
	if len(shown) > fileListLimit {
		shown = shown[:fileListShown]
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	for _, f := range shown {
		line := fmt.Sprintf("  %s\t%s\t%s\t%d bytes", x509text.Printable(f.Path), f.Kind, f.Mode, f.Size)
		if f.Cert != nil {
			line += fmt.Sprintf("\tCN=%q serial=%s not-after=%s", f.Cert.CN, f.Cert.Serial, f.Cert.NotAfter.Format(time.RFC3339))
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	if more := len(r.Files) - len(shown); more > 0 {
		fmt.Fprintf(u.out, "  … and %d more files (--json lists every one)\n", more)
	}
	if r.Recorded != "" {
		fmt.Fprintf(u.out, "  recorded in %s\n", x509text.Printable(r.Recorded))
	}
	for _, f := range shown {
		if f.Backup != "" {
			fmt.Fprintf(u.out, "  kept the previous %s as %s\n", x509text.Printable(filepath.Base(f.Path)), x509text.Printable(f.Backup))
		}
	}
	return nil
}

// A text report lists at most fileListLimit files; longer lists show the
// first fileListShown (eight certificates' three files) and a count.
const (
	fileListLimit = 30
	fileListShown = 24
)
