package commands

import (
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/urfave/cli/v2"
)

func signerRunnerCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "runner",
		Usage:     "issue a runner's (or, with --admin, an admin's) client certificate under the signer CA",
		ArgsUsage: "NAME",
		Description: `Writes DIR/signer/NAME.pem and NAME-key.pem: a client certificate of the
signer CA whose grant (an extension signed into it, not a subject field
a runner could choose) names the profiles and CN patterns the runner may
ask for. An admin certificate may list, revoke and publish the CRL, and
never ask for a certificate. Give the files to the runner with the
signer CA (DIR/signer/ca.pem) and the HMAC key.

A stolen runner certificate is revoked on the signer CA's own CRL, which
the signer reads on every connection:
   mtlsctl client revoke --dir pki/signer NAME --reason keyCompromise

EXAMPLES:
   mtlsctl signer runner --dir pki ci-runner-2 --cn 'ci-*' --cn 'build-*'
   mtlsctl signer runner --dir pki alice --admin`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.BoolFlag{Name: "admin", Usage: "an admin certificate (list, revoke, CRL) instead of a runner's"},
			forceFlag(),
			jsonFlag(),
		}, grantFlags()...),
		Action: func(c *cli.Context) error {
			return runSignerRunner(u, c)
		},
	}
}

func runSignerRunner(u *ui, c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("signer runner takes one NAME").hint("mtlsctl signer runner --dir pki ci-runner-2 --cn 'ci-*'")
	}
	name := c.Args().First()
	if checkBaseName(name) != nil {
		return usageErrorf("NAME %q must be a plain file name (letters, digits, '-', '.', '_')", name)
	}
	admin := c.Bool("admin")
	if admin && (c.IsSet("cn") || c.IsSet("profile")) {
		return usageErrorf("an admin certificate asks for no certificate: --cn and --profile are a runner's").hint("leave them out, or drop --admin")
	}
	g := grantFrom(c, admin)
	if !admin && len(g.CNs) == 0 {
		return usageErrorf("a runner needs --cn PATTERN: the CNs it may ask for").hint("--cn 'ci-*'")
	}
	if err := g.Check(); err != nil {
		return usageErrorf("%v", err)
	}
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	if err := signer.CheckGrantProfiles(d, g); err != nil {
		return err
	}
	sd, err := signer.OpenDir(d)
	if err != nil {
		return err
	}
	if _, err := signer.Config(sd); err != nil {
		return err
	}
	issued, err := signer.IssueGrant(c.Context, sd, name, name, g, c.Bool("force"))
	if err != nil {
		return err
	}
	res := newResult("signer runner")
	res.Notes = append(res.Notes, issued.Notes...)
	for _, is := range issued.Issued {
		res.addWritten(is.Files, nil)
	}
	return u.report(res, c.Bool("json"))
}
