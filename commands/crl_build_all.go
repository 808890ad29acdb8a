package commands

import (
	"time"

	"github.com/urfave/cli/v2"
)

// crlBuildAllConflicts are crl build's flags that name one CA or one
// output: --all rebuilds every CA's own CRL in the directory.
var crlBuildAllConflicts = []string{"issuer", "ca", "ca-key", "out", "pem", "decimal", "allow-unrevoke", "signer", "strict"}

// runCRLBuildAll is crl build --all: every CA's CRL (root, intermediates,
// retired keys still in use) re-signed from its serials file, in one
// transaction. The daily job runs it.
func runCRLBuildAll(u *ui, c *cli.Context) error {
	if !c.Bool("all") && c.IsSet("if-due") {
		return usageErrorf("--if-due goes with --all").hint("mtlsctl crl build --all --if-due 3d")
	}
	if c.Args().Len() > 0 {
		return usageErrorf("crl build --all reads each CA's own serials file: no SERIALS-FILE").hint("mtlsctl crl build --all --dir DIR")
	}
	for _, f := range crlBuildAllConflicts {
		if c.IsSet(f) {
			return usageErrorf("--all and --%s cannot be used together", f).hint("--all rebuilds DIR's own CRLs (DIR/ca.crl, DIR/NAME.crl); build one CRL without --all")
		}
	}
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	nextUpdate, err := parseDuration("next-update", c.String("next-update"))
	if err != nil {
		return err
	}
	var ifDue time.Duration
	if c.IsSet("if-due") {
		if ifDue, err = parseDuration("if-due", c.String("if-due")); err != nil {
			return err
		}
	}
	res, err := d.BuildAllCRLs(c.Context, nextUpdate, ifDue)
	if err != nil {
		return err
	}
	r := newResult("crl build --all")
	r.Notes = append(append(r.Notes, res.Repaired...), res.Notes...)
	r.Warnings = append(r.Warnings, res.Warnings...)
	r.addWritten(res.Written, nil)
	return u.report(r, c.Bool("json"))
}
