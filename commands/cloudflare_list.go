package commands

import (
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func cloudflareListCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the account's Access mTLS certificates, marking this directory's CA",
		Description: `Lists the Access mTLS certificates of the account (or zone): ID, name,
expiry with days left (! inside 30 days, !! inside 14, when Access sends
its alerts), associated hostnames, and * on the entry whose fingerprint is
one of this directory's CA certificates. Sorted by name (then ID), or
with --sort expiry by expiry date, soonest first.

Token permission: "Access: Mutual TLS Certificates Read" (or Write).

` + cloudflareHelp,
		Flags: append([]cli.Flag{dirFlag(),
			&cli.StringFlag{Name: "sort", Value: cloudflare.SortByName, Usage: "order the list by `KEY`: " + strings.Join(cloudflare.SortKeys, " or ")},
		}, cloudflareFlags(false)...),
		Action: func(c *cli.Context) error {
			return runCloudflareList(u, c)
		},
	}
}

type listedCert struct {
	cloudflare.Certificate
	DaysLeft      int    `json:"days_left"`
	Level         string `json:"level"` // ok, warn (30 days), urgent (14 days), expired
	ThisDirectory bool   `json:"this_directory"`
}

func runCloudflareList(u *ui, c *cli.Context) error {
	if by := c.String("sort"); !slices.Contains(cloudflare.SortKeys, by) {
		return usageErrorf("--sort %s: use %s", x509text.Printable(by), strings.Join(cloudflare.SortKeys, " or "))
	}
	account, zone := scopeFrom(c)
	cl, err := cloudflareClient(u, c, account, zone)
	if err != nil {
		return err
	}
	mine := directoryCAs(c)
	certs, err := cl.Certificates(c.Context)
	if err != nil {
		return err
	}
	cloudflare.SortCertificates(certs, c.String("sort"))
	now := time.Now()
	out := []listedCert{}
	for _, ct := range certs {
		left := ct.ExpiresOn.Sub(now)
		lc := listedCert{Certificate: ct, DaysLeft: int(left.Hours() / 24), ThisDirectory: ct.Matches(mine)}
		switch {
		case left <= 0:
			lc.Level = "expired"
		case left <= 14*24*time.Hour:
			lc.Level = "urgent"
		case left <= 30*24*time.Hour:
			lc.Level = "warn"
		default:
			lc.Level = "ok"
		}
		out = append(out, lc)
	}
	if c.Bool("json") {
		return u.printAPIJSON(struct {
			Command      string       `json:"command"`
			Certificates []listedCert `json:"certificates"`
		}{"cloudflare list", out})
	}
	if len(out) == 0 {
		fmt.Fprintln(u.out, "no Access mTLS certificates in this account: upload one with 'mtlsctl cloudflare upload'")
		return nil
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\tID\tNAME\tEXPIRES\tLEFT\tHOSTNAMES")
	for _, lc := range out {
		mark := ""
		if lc.ThisDirectory {
			mark = "*"
		}
		left := fmt.Sprintf("%dd", lc.DaysLeft)
		switch lc.Level {
		case "expired":
			left = "expired"
		case "urgent":
			left += " !!"
		case "warn":
			left += " !"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mark, x509text.Printable(lc.ID), x509text.Printable(lc.Name), lc.ExpiresOn.UTC().Format("2006-01-02"), left, x509text.Printable(strings.Join(lc.Hostnames, ",")))
	}
	tw.Flush()
	if len(mine) > 0 {
		fmt.Fprintln(u.out, "* this directory's CA")
	}
	return nil
}

// directoryCAs are the CA certificates of --dir that Access could hold:
// the root and the upload bundle. A directory without a CA marks nothing.
func directoryCAs(c *cli.Context) []*x509.Certificate {
	d, err := openDir(c)
	if err != nil {
		return nil
	}
	var out []*x509.Certificate
	for _, f := range []string{d.CA("").Cert, d.UploadBundle()} {
		data, err := input.ReadInputAs(f, nil, input.InputCertificates)
		if err != nil {
			continue
		}
		certs, err := pemutil.ParseCertificatesPEM(f, data)
		if err == nil {
			out = append(out, certs...)
		}
	}
	return out
}
