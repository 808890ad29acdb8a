package commands

import (
	"fmt"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/urfave/cli/v2"
)

func signerInitCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "apply the database schema and make the signer CA, its server certificate, the first runner and the HMAC key",
		Description: `Needs a directory with a CA ('mtlsctl ca init'): that CA's key is the
one the signer signs with. Applies cfssl's certdb schema and mtlsctl's
tables to the database (once: a rerun changes nothing), and makes, in
DIR/signer, what does not exist yet:

   ca.pem, ca-key.pem        the signer CA (issues runner, admin and server
                             certificates only; never trusted by Access)
   server.pem, server-key.pem  the signer's TLS certificate for --host
   NAME.pem, NAME-key.pem    the first runner (--runner, default runner-1),
                             granted --profile (default client) and --cn
   hmac.key                  the HMAC key runners sign requests with (0600)

A rerun never replaces any of them.

EXAMPLES:
   mtlsctl signer init --dir pki --db postgres://signer@db/pki --host signer.internal --cn 'ci-*'`,
		Flags: append([]cli.Flag{
			dirFlag(),
			dbFlag(),
			&cli.StringSliceFlag{Name: "host", Value: cli.NewStringSlice("localhost", "127.0.0.1"), Usage: "a `NAME` or address runners reach the signer by (repeatable)"},
			&cli.StringFlag{Name: "runner", Value: "runner-1", Usage: "the first runner's `NAME`"},
			jsonFlag(),
		}, grantFlags()...),
		Action: func(c *cli.Context) error {
			return runSignerInit(u, c)
		},
	}
}

func runSignerInit(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	if _, err := os.Stat(d.CA(dirview.RootName).Cert); err != nil {
		return &pkix.Error{File: d.CA(dirview.RootName).Cert, Msg: "no CA here to sign with", Hint: "make it first: mtlsctl ca init --dir " + d.Path()}
	}
	if c.String("db") == "" {
		return usageErrorf("signer init needs --db URL (or MTLSCTL_SIGNER_DB)").hint("mtlsctl signer init --db postgres://signer@localhost/pki")
	}
	if checkBaseName(c.String("runner")) != nil {
		return usageErrorf("--runner %q must be a plain file name (letters, digits, '-', '.', '_')", c.String("runner"))
	}
	g := grantFrom(c, false)
	if len(g.CNs) == 0 {
		return usageErrorf("the first runner needs --cn PATTERN: the CNs it may ask for").hint("--cn 'ci-*', or --cn '*' for any")
	}
	if err := g.Check(); err != nil {
		return usageErrorf("%v", err)
	}
	// Everything that can be checked before the database and the files.
	if err := signer.CheckGrantProfiles(d, g); err != nil {
		return err
	}
	if err := signer.CheckInit(c.String("runner"), c.StringSlice("host")); err != nil {
		return err
	}
	store, err := signer.Open(c.Context, c.String("db"))
	if err != nil {
		return err
	}
	defer store.Close()
	res := newResult("signer init")
	steps, err := signer.Migrate(c.Context, store.DB())
	if err != nil {
		return err
	}
	for _, s := range steps {
		res.Notes = append(res.Notes, "database: applied "+s)
	}
	if len(steps) == 0 {
		res.Notes = append(res.Notes, "database: the schema is up to date")
	}
	sd, err := signer.OpenDir(d)
	if err != nil {
		return err
	}
	w, err := signer.InitCA(c.Context, sd)
	if err != nil {
		return err
	}
	res.addWritten(w, nil)
	issued, err := signer.IssueServer(c.Context, sd, c.StringSlice("host"))
	if err != nil {
		return err
	}
	for _, is := range issued.Issued {
		res.addWritten(is.Files, nil)
	}
	name := c.String("runner")
	if _, err := os.Stat(sd.Leaf(name).Cert); err == nil {
		res.Notes = append(res.Notes, fmt.Sprintf("%s exists: kept", sd.Leaf(name).Cert))
	} else {
		issued, err := signer.IssueGrant(c.Context, sd, name, name, g, false)
		if err != nil {
			return err
		}
		for _, is := range issued.Issued {
			res.addWritten(is.Files, nil)
		}
	}
	w, err = signer.WriteHMACKey(sd)
	if err != nil {
		return err
	}
	res.addWritten(w, nil)
	return u.report(res, c.Bool("json"))
}
