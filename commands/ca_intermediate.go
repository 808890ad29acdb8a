package commands

import (
	"errors"

	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func caIntermediateCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "intermediate",
		Usage: "create an intermediate CA signed by the root (or --ca): intermediate.pem, intermediate-key.pem, intermediate.csr, ca-chain.pem",
		Description: `Creates an intermediate CA signed by the CA in DIR, from intermediate-csr.json
or the built-in request with --cn. The profile is --profile, else the CA
profile ("ca_constraint": {"is_ca": true}) of ca-config.json that comes
first by name, else a built-in one: cert sign + crl sign, 5 years (cut at
the root's expiry).

The intermediate's key is of its issuer's type and size (an ECDSA P-384
root gets an ECDSA P-384 intermediate) unless --key-type or a "key"
section in the request file asks for another.

The intermediate always gets exactly the path length of --path-len (default
0: it may issue client certificates but no further CAs). A root whose own
path length forbids it is refused; cfssl would sign anyway.

Also writes ca-chain.pem (NAME-chain.pem for another --name): the
intermediate then the root, which is what Access's upload wants.

EXAMPLES:
   mtlsctl ca intermediate --cn "Access Issuing CA 1"
   mtlsctl ca validate ca-chain.pem
   mtlsctl client issue --issuer intermediate --cn device-1 --name device-1`,
		Flags: []cli.Flag{
			dirFlag(),
			csrFlag("DIR/intermediate-csr.json"),
			&cli.StringFlag{Name: "cn", Usage: "the intermediate's common `NAME` (overrides the request's CN)"},
			configFlag(),
			signingCAFlag(),
			signingCAKeyFlag(),
			&cli.StringFlag{Name: "profile", Usage: "CA signing profile (default: the first with is_ca, else built-in)"},
			&cli.IntFlag{Name: "path-len", Value: 0, Usage: "path length constraint of the intermediate; -1 for none"},
			&cli.StringFlag{Name: "name", Value: "intermediate", Usage: "output base `NAME`"},
			keyTypeFlag("the issuer's type and size"),
			forceFlag(),
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			return runCAIntermediate(u, c)
		},
	}
}

func runCAIntermediate(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "csr", "config", "ca", "ca-key"); err != nil {
		return err
	}
	res := newResult("ca intermediate")
	base := c.String("name")
	if err := checkBaseName(base); err != nil {
		return err
	}
	if c.Int("path-len") < -1 {
		return usageErrorf("--path-len %d: use -1 (no limit) or a number from 0", c.Int("path-len"))
	}
	if c.IsSet("cn") {
		if err := checkCNFlag(c.String("cn")); err != nil {
			return err
		}
	}
	req, err := loadRequestOrBuiltin(c, d.File(dirview.InterRequest), cfsslconf.CARequest, c.String("cn"))
	if err != nil {
		return err
	}
	if err := applyKeyType(c, req); err != nil {
		return err
	}
	cfg, err := loadConfig(c, d)
	if err != nil {
		return err
	}
	profileName, profile, err := cfg.CAProfile(c.String("profile"))
	if err != nil {
		return err
	}
	in, err := loadCAInput(c, d)
	if err != nil {
		return err
	}
	signer, err := d.LoadSigner("", in, cfg)
	if err != nil {
		return err
	}
	ca.FollowIssuerKey(req, signer.Issuer.Cert)
	res.Notes = append(res.Notes, req.Notes...)
	jobs := []pkidir.Job{{CN: req.CR.CN, Name: base, Req: req}}
	if err := refuseInputs(c, d, jobs); err != nil {
		return err
	}
	out, err := d.Issue(c.Context, &pkidir.IssueRequest{Kind: inventory.KindIntermediate, Jobs: jobs, Signer: signer,
		Profile: profileName, CAProfile: profile, PathLen: c.Int("path-len"), CertKind: "intermediate CA certificate", Force: c.Bool("force")})
	if err != nil {
		return err
	}
	if len(out.Failed) > 0 {
		return errors.New(out.Failed[0].Error)
	}
	return reportIssued(u, c, d, res, out, 1)
}
