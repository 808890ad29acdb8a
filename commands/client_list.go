package commands

import (
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientListCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the client certificates recorded in DIR/inventory.tsv",
		Description: `Lists what mtlsctl issued in DIR, from its inventory: serial (as Access's
certSerial), status, kind, issuer (the base name of the CA's files: ca for
the root, intermediate…), CN, file name, not-after and days left.

EXAMPLES:
   mtlsctl client list
   mtlsctl client list --expiring 30d
   mtlsctl client list --revoked --json
   mtlsctl client list --cn 'device-*' --all`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "expiring", Usage: "only certificates expiring within `DURATION` (e.g. 30d)"},
			&cli.BoolFlag{Name: "revoked", Usage: "only revoked certificates"},
			&cli.BoolFlag{Name: "valid", Usage: "only certificates in force (neither revoked nor superseded by a renewal)"},
			&cli.StringFlag{Name: "cn", Usage: "only CNs matching `PATTERN` (shell glob)"},
			&cli.BoolFlag{Name: "all", Usage: "include the root and intermediate CAs"},
			jsonFlag(),
		}, signerClientFlags(true)...),
		Action: func(c *cli.Context) error {
			return runClientList(u, c)
		},
	}
}

func runClientList(u *ui, c *cli.Context) error {
	if c.String("signer") != "" {
		return listViaSigner(u, c)
	}
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	if c.Bool("revoked") && c.Bool("valid") {
		return usageErrorf("--revoked and --valid exclude each other: nothing is both").hint("use one of them, or neither for all")
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
	// A mistyped --dir must not list "0 of 0 certificates" and succeed: a
	// CI job would read that as an empty fleet.
	if err := d.Exists(); err != nil {
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
	rows := []inventory.Record{}
	for _, r := range inv.Records {
		switch {
		case r.Kind != inventory.KindClient && !c.Bool("all"),
			c.Bool("revoked") && r.Status != inventory.StatusRevoked,
			c.Bool("valid") && r.Status != inventory.StatusValid,
			within > 0 && (r.NotAfter.Sub(now) > within || r.Status == inventory.StatusRevoked):
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
		if where := u.hints.caBelow(); where != "" {
			u.note("%s", where)
		} else {
			u.note("%s has no inventory yet: certificates issued by mtlsctl are recorded there", dir)
		}
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATUS\tKIND\tISSUER\tCN\tNAME\tNOT AFTER\tDAYS LEFT")
	for _, r := range rows {
		status := string(r.Status)
		if r.Status == inventory.StatusRevoked {
			status = "revoked " + r.RevokedAt.Format("2006-01-02")
			if r.Reason != "" {
				status += " (" + r.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Serial, status, r.Kind, orDash(r.Issuer), r.CN, r.Name, r.NotAfter.Format("2006-01-02"), daysLeft(r.NotAfter, now))
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
