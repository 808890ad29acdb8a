package commands

import (
	"errors"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientListCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the client certificates recorded in DIR/inventory.tsv",
		Description: `Lists what mtlsctl issued in DIR, from its inventory: serial (as Access's
certSerial), status, CN, file name, not-after and days left.

EXAMPLES:
   mtlsctl client list
   mtlsctl client list --expiring 30d
   mtlsctl client list --revoked --json
   mtlsctl client list --cn 'device-*' --all

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "expiring", Usage: "only certificates expiring within `DURATION` (e.g. 30d)"},
			&cli.BoolFlag{Name: "revoked", Usage: "only revoked certificates"},
			&cli.BoolFlag{Name: "valid", Usage: "only certificates in force (neither revoked nor superseded by a renewal)"},
			&cli.StringFlag{Name: "cn", Usage: "only CNs matching `PATTERN` (shell glob)"},
			&cli.BoolFlag{Name: "all", Usage: "include the root and intermediate CAs"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runClientList(u, c)
		},
	}
}

func runClientList(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	var within time.Duration
	if s := c.String("expiring"); s != "" {
		if within, err = parseDuration("expiring", s); err != nil {
			return err
		}
	}
	if pat := c.String("cn"); pat != "" {
		if _, err := filepath.Match(pat, ""); err != nil {
			return usageErrorf("--cn %q is not a valid pattern", pat)
		}
	}
	d, err := pkidir.Open(dir)
	if err != nil {
		return err
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return err
	}
	if p := d.Pending(); p != "" {
		u.warn("%s", p)
	}
	now := time.Now()
	rows := []pkix.Record{}
	for _, r := range inv.Records {
		switch {
		case r.Kind != pkix.KindClient && !c.Bool("all"),
			c.Bool("revoked") && r.Status != pkix.StatusRevoked,
			c.Bool("valid") && r.Status != pkix.StatusValid,
			within > 0 && (r.NotAfter.Sub(now) > within || r.Status == pkix.StatusRevoked):
			continue
		}
		if pat := c.String("cn"); pat != "" {
			if ok, _ := filepath.Match(pat, r.CN); !ok {
				continue
			}
		}
		rows = append(rows, r)
	}
	if c.Bool("json") {
		return u.printJSON(rows)
	}
	if len(inv.Records) == 0 {
		u.note("%s has no inventory yet: certificates issued by mtlsctl are recorded there", dir)
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATUS\tKIND\tCN\tNAME\tNOT AFTER\tDAYS LEFT")
	for _, r := range rows {
		status := string(r.Status)
		if r.Status == pkix.StatusRevoked {
			status = "revoked " + r.RevokedAt.Format("2006-01-02")
			if r.Reason != "" {
				status += " (" + r.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Serial, status, r.Kind, r.CN, r.Name, r.NotAfter.Format("2006-01-02"), daysLeft(r.NotAfter, now))
	}
	tw.Flush()
	fmt.Fprintf(u.out, "%d of %d certificates\n", len(rows), len(inv.Records))
	return nil
}

func daysLeft(t, now time.Time) int {
	d := t.Sub(now)
	if d < 0 {
		return -int((-d).Hours()/24) - 1
	}
	return int(d.Hours() / 24)
}

func clientRevokeCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke client certificates: mark the inventory, append to the issuing CA's serials file",
		ArgsUsage: "[NAME]",
		Description: `Revokes by CN or file base name (NAME), by --serial HEX, or by --cert FILE.
The inventory marks it revoked and its serial is appended, in hex with the
reason and date, to the serials file of the CA that issued it:
DIR/serials.txt (the guide's file) for the root, DIR/NAME-serials.txt for
intermediate NAME; 'mtlsctl crl build' on that file makes the CRL, and
--crl rebuilds it (DIR/ca.crl, DIR/NAME.crl) in the same step. Everything
that can fail is checked before any file changes. A name that matches
several certificates is refused with the list, unless --all. Revoking
twice changes nothing (and rebuilds no CRL).

EXAMPLES:
   mtlsctl client revoke device-7 --reason keyCompromise --crl
   mtlsctl client revoke --serial 7F:39:24:DE:0A
   mtlsctl client revoke --cert lost-laptop.pem --reason cessationOfOperation

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "serial", Usage: "revoke the certificate with this `HEX` serial"},
			&cli.StringFlag{Name: "cert", Usage: "revoke the certificate in `FILE`"},
			&cli.StringFlag{Name: "reason", Usage: "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, ..."},
			&cli.BoolFlag{Name: "all", Usage: "revoke every certificate NAME matches"},
			&cli.BoolFlag{Name: "crl", Usage: "also rebuild the issuing CA's CRL (DIR/ca.crl, or DIR/NAME.crl for intermediate NAME)"},
			&cli.StringFlag{Name: "next-update", Value: "7d", Usage: "with --crl: how long the CRL is valid"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("revoke takes one NAME").hint("use --all to revoke every certificate a name matches")
			}
			return runClientRevoke(u, c)
		},
	}
}

func runClientRevoke(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	req := &pkidir.RevokeRequest{Name: c.Args().First(), All: c.Bool("all"), CRL: c.Bool("crl")}
	selectors := 0
	for _, set := range []bool{req.Name != "", c.String("serial") != "", c.String("cert") != ""} {
		if set {
			selectors++
		}
	}
	if selectors != 1 {
		return usageErrorf("say which certificate: a NAME, --serial HEX or --cert FILE (one of them)").hint("mtlsctl client revoke device-7")
	}
	if s := c.String("reason"); s != "" {
		r, ok := pkix.ParseReason(s)
		if !ok || s == "removeFromCRL" {
			return usageErrorf("--reason %q is not an RFC 5280 reason", s).hint("reasons: %s", pkix.ReasonNames())
		}
		req.Reason = r
	}
	if req.CRL {
		if req.NextUpdate, err = parseDuration("next-update", c.String("next-update")); err != nil {
			return err
		}
	}
	switch {
	case c.String("serial") != "":
		if req.Serial, err = parseSerialFlag("serial", c.String("serial")); err != nil {
			return err
		}
	case c.String("cert") != "":
		if req.Cert, err = loadFile(c, c.String("cert"), pkix.ParseCertificatePEM, ""); err != nil {
			return err
		}
	}
	out, err := d.Revoke(c.Context, req)
	if err != nil {
		if errors.Is(err, pkidir.ErrAmbiguous) {
			return usageErrorf("%s", err.Error()).hint("%s", pkix.HintOf(err))
		}
		return err
	}
	res := newResult("client revoke")
	res.Notes = append(append(res.Notes, out.Repaired...), out.Notes...)
	res.Warnings = append(res.Warnings, out.Warnings...)
	res.Revoked = out.Revoked
	res.addWritten(out.Written, nil)
	if len(out.Revoked) > 0 {
		res.Recorded = d.Inventory()
	}
	if len(out.CRLs) > 0 {
		summary := crlSummary(out.CRLs[len(out.CRLs)-1], c.Bool("json"))
		res.CRL = &summary
	}
	if c.Bool("json") {
		return u.report(res, true)
	}
	for _, r := range res.Revoked {
		fmt.Fprintf(u.out, "revoked %s\n", pkix.FormatRecord(&r))
	}
	if len(res.Files) > 0 {
		return u.report(res, false)
	}
	for _, n := range res.Notes {
		u.note("%s", n)
	}
	for _, w := range res.Warnings {
		u.warn("%s", w)
	}
	if len(res.Revoked) == 0 {
		u.note("nothing changed")
	}
	return nil
}
