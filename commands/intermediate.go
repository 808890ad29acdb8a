package commands

import (
	"crypto/x509"
	"path/filepath"

	"github.com/mtlsctl/mtlsctl/pkix"
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

The intermediate always gets exactly the path length of --path-len (default
0: it may issue client certificates but no further CAs). A root whose own
path length forbids it is refused; cfssl would sign anyway.

Also writes ca-chain.pem (NAME-chain.pem for another --name): the
intermediate then the root, which is what Access's upload wants.

EXAMPLES:
   mtlsctl ca intermediate --cn "Access Issuing CA 1"
   mtlsctl ca validate ca-chain.pem
   mtlsctl client issue --issuer intermediate --cn device-1 --name device-1

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "csr", Usage: "request `FILE` in cfssl's CSR JSON (default DIR/intermediate-csr.json; - for stdin)"},
			&cli.StringFlag{Name: "cn", Usage: "the intermediate's common `NAME` (overrides the request's CN)"},
			configFlag(),
			&cli.StringFlag{Name: "ca", Usage: "issuing CA certificate `FILE` (default DIR/ca.pem); may be a bundle, issuer first"},
			&cli.StringFlag{Name: "ca-key", Usage: "issuing CA private key `FILE` (default DIR/ca-key.pem)"},
			&cli.StringFlag{Name: "profile", Usage: "CA signing profile (default: the first with is_ca, else built-in)"},
			&cli.IntFlag{Name: "path-len", Value: 0, Usage: "path length constraint of the intermediate; -1 for none"},
			&cli.StringFlag{Name: "name", Value: "intermediate", Usage: "output base `NAME`"},
			&cli.StringFlag{Name: "key-type", Usage: "override the request's key: rsa-2048, rsa-4096, ecdsa-256, ecdsa-384, ..."},
			forceFlag(),
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runCAIntermediate(u, c)
		},
	}
}

// chainFileName is where the upload bundle of intermediate NAME goes.
func chainFileName(name string) string {
	if name == "intermediate" {
		return "ca-chain.pem"
	}
	return name + "-chain.pem"
}

func runCAIntermediate(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
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
	req, err := loadRequestOrBuiltin(c, dir, "intermediate-csr.json", pkix.CARequest, c.String("cn"))
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, req.Notes...)
	if err := applyKeyType(c, req); err != nil {
		return err
	}
	cfgPath, _ := inputPath(c, "config", dir, "ca-config.json")
	cfg, err := loadFile(c, cfgPath, pkix.LoadSigningConfig, "run 'mtlsctl ca init' first, or pass --config")
	if err != nil {
		return err
	}
	profileName, profile, err := cfg.CAProfile(c.String("profile"))
	if err != nil {
		return err
	}
	issuer, above, err := loadIssuer(c, dir, cfg)
	if err != nil {
		return err
	}
	chainPath := filepath.Join(dir, chainFileName(base))
	outputs := append(plannedSet(dir, base), pkix.File{Path: chainPath})
	force := c.Bool("force")
	if err := checkOutputs(c, dir, outputs); err != nil {
		return err
	}

	issued, warnings, err := issuer.IssueIntermediate(req, profileName, profile, c.Int("path-len"))
	if err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, warnings...)
	chain := append([]*x509.Certificate{issued.Cert, issuer.Cert}, above...)
	files := append(fileSet(dir, base, "intermediate CA certificate", issued),
		pkix.File{Path: chainPath, Data: pkix.OrderedPEM(chain), Mode: pkix.ModePublic, Kind: "CA chain for Access (intermediate first)"})
	record := pkix.NewRecord(issued.Cert, "intermediate", profileName, issuerBaseName(c), base)
	written, errs, err := commitIssued(dir, []*pkix.Staged{pkix.Stage(files, force)}, []pkix.Record{record}, force)
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return err
	}
	res.Recorded = filepath.Join(dir, pkix.InventoryFile)
	sum := pkix.Summarize(issued.Cert)
	res.Cert = &sum
	res.addWritten(written[0], map[string]*pkix.CertSummary{filepath.Join(dir, base+".pem"): &sum})
	return u.report(res, c.Bool("json"))
}
