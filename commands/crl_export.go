package commands

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/urfave/cli/v2"
)

func crlExportCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "list what the directory's CRLs revoke, as Cloudflare identifies certificates (issuer SKI + serial)",
		Description: `Access does not read CRLs: revocation is enforced at Cloudflare's edge. This
reads every CRL of DIR (the root's and each intermediate's), each verified
against its CA, and lists what they revoke keyed as Cloudflare sends a
client certificate: certIssuerSKI (the issuing CA's key identifier) and
certSerial. A serial alone is not unique across CAs. It refuses a CRL past
its next update, one behind the inventory, a delta or partial CRL, and a CA
without a key identifier: the edge must enforce exactly what the CRLs say.

--format text   a table (default)
--format json   the CRLs used, the revoked certificates and the revoked CAs
--format waf    Cloudflare WAF custom-rule expressions (action: Block), one
                per line, each at most 4,096 characters: for small fleets
                without a Worker. Every certificate issued by a revoked CA
                (at any depth) is refused by the first rule.

EXAMPLES:
   mtlsctl crl export --dir pki
   mtlsctl crl export --dir pki --format waf > rules.txt
   mtlsctl crl export --dir pki --format json | jq '.revoked | length'`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "format", Value: "text", Usage: "text, json or waf"},
		}, externalCRLFlags()...),
		Action: func(c *cli.Context) error {
			return runCRLExport(u, c)
		},
	}
}

func runCRLExport(u *ui, c *cli.Context) error {
	format := c.String("format")
	if format != "text" && format != "json" && format != "waf" {
		return usageErrorf("--format %q: use text, json or waf", format)
	}
	d, err := openDir(c)
	if err != nil {
		return err
	}
	external, err := externalCRLs(c)
	if err != nil {
		return err
	}
	set, err := d.Revocations(time.Now(), external...)
	if err != nil {
		return err
	}
	revoked, err := set.Revoked()
	if err != nil {
		return err
	}
	switch format {
	case "json":
		return u.printJSON(struct {
			CRLs       []revocation.CRLSource  `json:"crls"`
			Revoked    []revocation.Revocation `json:"revoked"`
			RevokedCAs []string                `json:"revoked_cas"`
		}{set.CRLs, revoked, set.RevokedCAs})
	case "waf":
		rules := revocation.WAFRules(set, revoked)
		for _, r := range rules {
			fmt.Fprintln(u.out, r)
		}
		u.note("%d WAF custom rule%s (action: Block) from %d CRL%s", len(rules), plural(len(rules)), len(set.CRLs), plural(len(set.CRLs)))
		return nil
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CERT ISSUER SKI\tCERT SERIAL\tREASON\tREVOKED\tCA")
	for _, r := range revoked {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.IssuerSKI, r.Serial, orDash(r.Reason), r.RevokedAt.Format("2006-01-02"), r.CA)
	}
	tw.Flush()
	for _, ski := range set.RevokedCAs {
		fmt.Fprintf(u.out, "revoked CA: every certificate with certIssuerSKI %s is refused\n", ski)
	}
	fmt.Fprintf(u.out, "%d revoked certificate%s from %d CRL%s, %d revoked CA%s\n", len(revoked), plural(len(revoked)),
		len(set.CRLs), plural(len(set.CRLs)), len(set.RevokedCAs), plural(len(set.RevokedCAs)))
	return nil
}

// externalCRLs pairs --crl FILE with --ca FILE, in order.
func externalCRLs(c *cli.Context) ([]revocation.ExternalCRL, error) {
	crls, cas := c.StringSlice("crl"), c.StringSlice("ca")
	if len(crls) != len(cas) {
		return nil, usageErrorf("%d --crl but %d --ca: each CRL made elsewhere needs the CA that signed it", len(crls), len(cas)).
			hint("--crl other.crl --ca other-ca.pem")
	}
	var out []revocation.ExternalCRL
	for i := range crls {
		out = append(out, revocation.ExternalCRL{CRLFile: crls[i], CAFile: cas[i]})
	}
	return out, nil
}
