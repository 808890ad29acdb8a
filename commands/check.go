package commands

import (
	"fmt"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
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

func summariseExpiry(items []pkix.ExpiryItem) ([]pkix.ExpiryItem, int) {
	var shown []pkix.ExpiryItem
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
	root := d.CA(pkidir.RootName)
	warn, err := parseDuration("warn", c.String("warn"))
	if err != nil {
		return err
	}
	crlWarn, err := parseDuration("crl-warn", c.String("crl-warn"))
	if err != nil {
		return err
	}
	col := pkix.NewExpiryCollector(time.Now(), warn, crlWarn)
	var behind []pkidir.Behind
	cov := &pkidir.CRLCoverage{} // every CA's CRL: intermediates' and retired keys' too
	var unverified []pkidir.Unverified
	var unrevoked []pkidir.PendingRevocation // renew --revoke-old not finished
	pending := ""
	var signerBehind string            // --signer: revoked in the database, missing from the CRL
	var signerCRL *pkix.RevocationList // --signer: the CRL given, to compare
	var crlRefused string              // the CRL is not a complete list
	var crlNotes []string              // what the CRL reader found, for --json
	var revokedInEffect []string       // valid, but condemned by a revocation
	if c.String("signer") != "" {
		if c.Args().Len() > 0 {
			return usageErrorf("with --signer the certificates are the signer's database: no FILEs")
		}
		if err := signerCheckItems(c, d, col); err != nil {
			return err
		}
	} else if c.Args().Len() > 0 {
		for _, path := range c.Args().Slice() {
			certs, err := loadFileAs(c, pkix.InputCertificates, path, pkix.ParseCertificatesPEM, "")
			if err != nil {
				return err
			}
			for _, cert := range certs {
				col.AddCertificate(path, cert)
			}
		}
	} else {
		inv, err := d.ReadInventory()
		if err != nil {
			return err
		}
		for _, r := range inv.Records {
			if r.Status == pkix.StatusValid { // not revoked, not replaced by a renewal
				col.AddRecord(r)
			}
		}
		// A committed change not finished yet (a revocation, say) is not in
		// effect: that is a problem to report, not to repair from a check.
		if p := d.Pending(); p != "" {
			pending = p
			u.warn("%s", p)
		}
		// A CRL that does not list every certificate the inventory marks
		// revoked: a revoked device still gets in where the CRL is used.
		if behind, err = d.CRLsBehind(); err != nil {
			return err
		}
		if cov, err = d.CRLCoverage(time.Now()); err != nil {
			return err
		}
		// A certificate that no longer verifies (its CA was replaced) is
		// as good as expired.
		unverified = d.Unverifiable(inv)
		revokedInEffect = d.RevocationFindings(inv)
		if len(inv.Records) == 0 {
			// A directory made with cfssl or before the inventory: its CA.
			certs, err := loadFileAs(c, pkix.InputCertificates, root.Cert, pkix.ParseCertificatesPEM, "no inventory and no ca.pem in "+d.Path()+": give the files to check")
			if err != nil {
				return err
			}
			for _, cert := range certs {
				col.AddCertificate(root.Cert, cert)
			}
		}
		if unrevoked, err = d.PendingRevocations(); err != nil {
			return err
		}
		for _, p := range unrevoked {
			u.warn("%s", p.Message())
		}
		for i, r := range pkidir.SupersededStillValid(inv, time.Now()) {
			if i == 10 {
				u.note("… and more superseded certificates still valid ('client list --json' lists them)")
				break
			}
			// Not "renew with --revoke-old": the renewal is done, so a
			// second renew finds nothing due and revokes nothing.
			u.note("serial %s (CN %q) was renewed and stays valid until %s (superseded, not revoked); to revoke it: 'mtlsctl client revoke --serial %s --reason superseded --crl'",
				r.Serial, r.CN, r.NotAfter.UTC().Format("2006-01-02"), r.Serial)
		}
	}
	crlPath, explicit := inputPath(c, "crl", root.CRL)
	if explicit || (c.Args().Len() == 0 && pkix.Exists(crlPath)) {
		// Only --signer compares the entries: otherwise they are scanned,
		// not held (a million-entry ca.crl costs 68 KB, not 366 MB).
		read := func(file string, data []byte) (*pkix.RevocationList, error) { return pkix.ScanCRL(file, data, nil) }
		if c.String("signer") != "" {
			read = pkix.ReadCRL
		}
		rl, err := loadFileAs(c, pkix.InputCRL, crlPath, read, "")
		if err != nil {
			return err
		}
		for _, w := range rl.Warnings {
			crlNotes = append(crlNotes, rl.File+": "+w)
			u.warn("%s: %s", rl.File, w)
		}
		err = rl.Usable()
		if err == nil && c.String("signer") == "" && c.Args().Len() == 0 {
			err = d.GuardGivenCRL(crlPath, rl) // older than, or short of, what the directory revoked
		}
		if err != nil {
			// Its next update says nothing of what it leaves out: no row.
			crlRefused = err.Error()
			crlNotes = append(crlNotes, crlRefused)
			u.warn("%s (%s)", crlRefused, pkix.HintOf(err))
		} else if !rl.NextUpdate.IsZero() {
			col.AddCRL(crlPath, rl.NextUpdate)
		}
		signerCRL = rl
	}
	for _, s := range cov.CRLs {
		if s.File != crlPath && !s.NextUpdate.IsZero() {
			col.AddCRL(s.File, s.NextUpdate)
		}
	}
	if c.String("signer") != "" {
		if signerBehind, err = signerCRLBehind(c, crlPath, signerCRL); err != nil {
			return err
		}
		if signerBehind != "" {
			u.warn("%s", signerBehind)
		}
	}
	rep := col.Report()
	rep.CRLNotes = crlNotes
	// --json's problems count what makes the exit 1, a refused CRL too.
	expiring := rep.Problems
	if crlRefused != "" {
		rep.Problems++
	}
	for _, b := range behind {
		u.warn("%s", b.Message())
	}
	for _, v := range unverified {
		u.warn("%s", v.Message())
	}
	for _, f := range revokedInEffect {
		u.warn("%s", f)
	}
	for _, p := range cov.Problems() {
		u.warn("%s", p)
	}
	for _, n := range cov.Retired {
		u.note("%s", n)
	}
	if c.Bool("json") {
		if err := u.printJSON(rep); err != nil {
			return err
		}
	} else {
		// A fleet's check is summarised: every problem in full, then the
		// first items that are fine, then a count (--json lists all).
		shown, hidden := summariseExpiry(rep.Items)
		u.printExpiryTable(shown)
		if hidden > 0 {
			fmt.Fprintf(u.out, "… and %d more that expire after %s (--json lists every one)\n", hidden, rep.Warn)
		}
	}
	if expiring > 0 && !c.Bool("json") {
		// The command that fixes the client certificates found: the last
		// line, for the person reading the CI log.
		for _, it := range rep.Items {
			if it.Kind == string(pkix.KindClient) && it.Level != "ok" {
				if c.String("signer") != "" {
					fmt.Fprintf(u.out, "%s\n", u.hints.complete("reissue them from a runner: mtlsctl client issue --signer … --force --cn CN"))
				} else {
					fmt.Fprintf(u.out, "%s\n", u.hints.complete("renew them: mtlsctl client renew --expiring "+rep.Warn))
				}
				break
			}
		}
	}
	if expiring > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d item%s expire%s within %s", expiring, plural(expiring), map[bool]string{true: "s", false: ""}[expiring == 1], rep.Warn)}
	}
	if len(unverified) > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d certificate%s no longer verif%s", len(unverified), plural(len(unverified)), map[bool]string{true: "ies", false: "y"}[len(unverified) == 1])}
	}
	if len(revokedInEffect) > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d valid certificate%s condemned by a revocation", len(revokedInEffect), plural(len(revokedInEffect)))}
	}
	if len(behind) > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d CRL%s behind the inventory", len(behind), plural(len(behind)))}
	}
	if n := len(cov.Problems()); n > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d CRL%s missing", n, plural(n))}
	}
	if len(unrevoked) > 0 {
		return &problemsFound{summary: fmt.Sprintf("%d renewed certificate%s not revoked as --revoke-old asked", len(unrevoked), plural(len(unrevoked)))}
	}
	if crlRefused != "" {
		return &problemsFound{summary: "the CRL is not its CA's complete revocation list"}
	}
	if signerBehind != "" {
		return &problemsFound{summary: "the CRL is behind the signer's database"}
	}
	if pending != "" {
		return &problemsFound{summary: "an interrupted change is not finished"}
	}
	if !c.Bool("json") {
		fmt.Fprintf(u.out, "nothing expires within %s\n", rep.Warn)
	}
	return nil
}
