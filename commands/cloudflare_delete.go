package commands

import (
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func cloudflareDeleteCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete an Access mTLS certificate (refused while hostnames use it, unless --force)",
		ArgsUsage: "ID|NAME",
		Description: `Deletes the Access mTLS certificate with this ID, or this name (a name two
certificates share is refused: use the ID). While hostnames are associated
with it, clients under it are let in there: delete is refused unless
--force, which clears its hostnames first, then deletes it.

Token permission: "Access: Mutual TLS Certificates Write".

` + cloudflareHelp,
		Flags: append([]cli.Flag{&cli.BoolFlag{Name: "force", Usage: "clear the certificate's hostnames, then delete it"}}, cloudflareFlags(true)...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usageErrorf("cloudflare delete takes one certificate ID or name").hint("'mtlsctl cloudflare list' shows them")
			}
			return runCloudflareDelete(u, c)
		},
	}
}

func runCloudflareDelete(u *ui, c *cli.Context) error {
	account, zone := scopeFrom(c)
	cl, err := cloudflareClient(u, c, account, zone)
	if err != nil {
		return err
	}
	res, err := cl.Delete(c.Context, c.Args().First(), c.Bool("force"))
	doc := struct {
		Command string `json:"command"`
		DryRun  bool   `json:"dry_run"`
		*cloudflare.DeleteResult
	}{"cloudflare delete", cl.DryRun(), res}
	return u.finishAPI(c, "cloudflare delete", doc, err, func() {
		verb := "deleted"
		if cl.DryRun() {
			verb = "would be deleted"
		}
		// From the API: escaped once (no %q over it).
		fmt.Fprintf(u.out, "%s: Access certificate %s \"%s\" (hostnames were: %s)\n", verb, x509text.Printable(res.Certificate.ID), x509text.Printable(res.Certificate.Name), orNone(res.Certificate.Hostnames))
		u.printApplied(res.Applied, cl.DryRun())
	})
}
