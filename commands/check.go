package commands

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func checkCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "expiry gate: exit 1 when a CA, client certificate or CRL expires soon",
		ArgsUsage: "[FILE...]",
		Description: `Checks what expires: the CA, intermediates and client certificates recorded
in DIR/inventory.tsv (revoked and superseded ones left out) and the next
update of every CA's CRL in DIR (ca.crl, each intermediate's NAME.crl, and
a retired key's while a certificate it issued is unexpired; a CA with
unexpired certificates and no CRL is a problem too); or, with FILEs, the certificates in them and the CRL
given with --crl. Exit 0 when nothing expires
within --warn (default 30 days, Access's first alert), 1 otherwise, 2 when
an input cannot be read. Inside 14 days (Access's second alert) is marked
urgent. A certificate that outlives its issuer is noted. Sorted by time
left. The CRL has its own window, --crl-warn (default 2 days): CRLs are
rebuilt often by design. Written for a daily CI job (examples/ci-daily.sh).

EXAMPLES:
   mtlsctl check --dir pki
   mtlsctl check --warn 60d --json
   mtlsctl check ca.pem ca-chain.pem
   mtlsctl check --signer https://signer.internal:8888 --crl ca.crl   # an admin's certificate

With --signer (an admin certificate), the client certificates are the
valid ones in the signer's database, and the CRL given (or DIR/ca.crl)
must list every certificate the database marks revoked.`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "warn", Value: "30d", Usage: "fail when something expires within `DURATION`"},
			&cli.StringFlag{Name: "crl", Usage: "CRL `FILE` whose next update to check (default DIR/ca.crl when it exists)"},
			&cli.StringFlag{Name: "crl-warn", Value: "2d", Usage: "fail when the CRL's next update is within `DURATION`"},
			jsonFlag(),
		}, signerClientFlags(true)...),
		Action: func(c *cli.Context) error { return runCheck(u, c) },
	}
}

// checkListOK is how many items that are fine a text check lists.
const checkListOK = 20

func summariseExpiry(items []inventory.ExpiryItem) ([]inventory.ExpiryItem, int) {
	var shown []inventory.ExpiryItem
	ok, hidden := 0, 0
	for _, it := range items {
		if it.Level == "ok" {
			if ok++; ok > checkListOK {
				hidden++
				continue
			}
		}
		shown = append(shown, it)
	}
	return shown, hidden
}

func runCheck(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	opts, err := checkOptions(c, d)
	if err != nil {
		return err
	}
	rep, err := d.Check(opts)
	printCheckFindings(u, rep)
	if err != nil {
		return err
	}
	// --signer has no directory findings: this comes after the CRL's.
	var signerBehind string // --signer: revoked in the database, missing from the CRL
	if c.String("signer") != "" {
		if signerBehind, err = signerCRLBehind(c, opts.CRLPath, rep.CRL); err != nil {
			return err
		}
		if signerBehind != "" {
			u.warn("%s", signerBehind)
		}
	}
	if err := printCheckReport(u, c, rep); err != nil {
		return err
	}
	switch kind, n := rep.Verdict(); {
	case kind != pkidir.FindingNone:
		return &problemsFound{summary: checkSummary(kind, n, rep.Expiry.Warn)}
	case signerBehind != "":
		return &problemsFound{summary: "the CRL is behind the signer's database"}
	}
	if !c.Bool("json") {
		fmt.Fprintf(u.out, "nothing expires within %s\n", rep.Expiry.Warn)
	}
	return nil
}

// checkOptions reads what check looks at: the FILEs, the signer's records
// or the directory, and the CRL.
func checkOptions(c *cli.Context, d *pkidir.Dir) (pkidir.CheckOptions, error) {
	opts := pkidir.CheckOptions{Now: time.Now()}
	var err error
	if opts.Warn, err = parseDuration("warn", c.String("warn")); err != nil {
		return opts, err
	}
	if opts.CRLWarn, err = parseDuration("crl-warn", c.String("crl-warn")); err != nil {
		return opts, err
	}
	switch {
	case c.String("signer") != "":
		if c.Args().Len() > 0 {
			return opts, usageErrorf("with --signer the certificates are the signer's database: no FILEs")
		}
		if opts.Certs, opts.Records, err = signerCheckItems(c, d); err != nil {
			return opts, err
		}
	case c.Args().Len() > 0:
		for _, path := range c.Args().Slice() {
			certs, err := loadFileAs(c, input.InputCertificates, path, pemutil.ParseCertificatesPEM, "")
			if err != nil {
				return opts, err
			}
			for _, cert := range certs {
				opts.Certs = append(opts.Certs, pkidir.CheckCert{File: path, Cert: cert})
			}
		}
	default:
		opts.Inventory = true
		opts.GuardCRL = true // older than, or short of, what the directory revoked
		opts.ReadCA = func(path string) ([]*x509.Certificate, error) {
			return loadFileAs(c, input.InputCertificates, path, pemutil.ParseCertificatesPEM, "no inventory and no ca.pem in "+d.Path()+": give the files to check")
		}
	}
	crlPath, explicit := inputPath(c, "crl", d.CA(dirview.RootName).CRL)
	if explicit || (c.Args().Len() == 0 && atomicfile.Exists(crlPath)) {
		opts.CRLPath = crlPath
		// Only --signer compares the entries: otherwise they are scanned,
		// not held: a CRL of a million entries costs its header, not its list.
		read := func(file string, data []byte) (*crl.RevocationList, error) { return crl.ScanCRL(file, data, nil) }
		if c.String("signer") != "" {
			read = crl.ReadCRL
		}
		opts.ReadCRL = func(path string) (*crl.RevocationList, error) {
			return loadFileAs(c, input.InputCRL, path, read, "")
		}
	}
	return opts, nil
}

// printCheckFindings warns of the problems a check found and notes the rest.
func printCheckFindings(u *ui, rep *pkidir.CheckReport) {
	superseded := 0
	for _, f := range rep.Findings {
		switch {
		case f.Kind == pkidir.FindingSuperseded:
			if superseded++; superseded == 11 {
				u.note("… and more superseded certificates still valid ('client list --json' lists them)")
			}
			if superseded > 10 {
				continue
			}
			r := f.Record
			// Not "renew with --revoke-old": the renewal is done, so a
			// second renew finds nothing due and revokes nothing.
			u.note("serial %s (CN %q) was renewed and stays valid until %s (superseded, not revoked); to revoke it: 'mtlsctl client revoke --serial %s --reason superseded --crl'",
				r.Serial, r.CN, r.NotAfter.UTC().Format("2006-01-02"), r.Serial)
		case f.Err != nil:
			u.warn("%s (%s)", f.Text, pkix.HintOf(f.Err).Spell(spell))
		case f.Severity == pkidir.SeverityNote:
			u.note("%s", f.Text)
		default:
			u.warn("%s", f.Text)
		}
	}
}

// printCheckReport prints the expiry table, or the report as JSON, and
// the command that fixes the client certificates found.
func printCheckReport(u *ui, c *cli.Context, rep *pkidir.CheckReport) error {
	if c.Bool("json") {
		// --json's problems count what makes the exit 1, a refused CRL too.
		return u.printJSON(rep.Expiry)
	}
	// A fleet's check is summarised: every problem in full, then the
	// first items that are fine, then a count (--json lists all).
	shown, hidden := summariseExpiry(rep.Expiry.Items)
	u.printExpiryTable(shown)
	if hidden > 0 {
		fmt.Fprintf(u.out, "… and %d more that expire after %s (--json lists every one)\n", hidden, rep.Expiry.Warn)
	}
	if rep.Expiring == 0 {
		return nil
	}
	// The last line, for the person reading the CI log.
	for _, it := range rep.Expiry.Items {
		if it.Kind == string(inventory.KindClient) && it.Level != "ok" {
			if c.String("signer") != "" {
				fmt.Fprintf(u.out, "%s\n", u.hints.complete("reissue them from a runner: mtlsctl client issue --signer … --force --cn CN"))
			} else {
				fmt.Fprintf(u.out, "%s\n", u.hints.complete("renew them: mtlsctl client renew --expiring "+rep.Expiry.Warn))
			}
			break
		}
	}
	return nil
}

// checkSummary is the one line that names why check exits 1.
func checkSummary(kind pkidir.FindingKind, n int, warn string) string {
	switch kind {
	case pkidir.FindingExpiring:
		return fmt.Sprintf("%d item%s expire%s within %s", n, plural(n), map[bool]string{true: "s", false: ""}[n == 1], warn)
	case pkidir.FindingUnverified:
		return fmt.Sprintf("%d certificate%s no longer verif%s", n, plural(n), map[bool]string{true: "ies", false: "y"}[n == 1])
	case pkidir.FindingRevokedInEffect:
		return fmt.Sprintf("%d valid certificate%s condemned by a revocation", n, plural(n))
	case pkidir.FindingCRLBehind:
		return fmt.Sprintf("%d CRL%s behind the inventory", n, plural(n))
	case pkidir.FindingCRLMissing:
		return fmt.Sprintf("%d CRL%s missing", n, plural(n))
	case pkidir.FindingUnrevoked:
		return fmt.Sprintf("%d renewed certificate%s not revoked as --revoke-old asked", n, plural(n))
	case pkidir.FindingCRLRefused:
		return "the CRL is not its CA's complete revocation list"
	default:
		return "an interrupted change is not finished"
	}
}
