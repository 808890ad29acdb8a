package commands

import (
	"crypto/x509"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/urfave/cli/v2"
)

// signerClientFlags: a command as a runner ('client issue') or an admin
// (list, revoke, crl build, check) of 'mtlsctl signer'.
func signerClientFlags(admin bool) []cli.Flag {
	what, who := "have the signer at `URL` sign (https://signer.internal:8888): keys are made here, no CA key needed", "runner"
	if admin {
		what, who = "work on the database of the signer at `URL` (https://signer.internal:8888), with an admin certificate", "admin"
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "signer", EnvVars: []string{"MTLSCTL_SIGNER"}, Usage: what},
		&cli.StringFlag{Name: "signer-ca", EnvVars: []string{"MTLSCTL_SIGNER_CA"}, Usage: "with --signer: the signer CA `FILE` (DIR/signer/ca.pem on the signing host)"},
		&cli.StringFlag{Name: "signer-cert", EnvVars: []string{"MTLSCTL_SIGNER_CERT"}, Usage: "with --signer: this " + who + "'s certificate `FILE`"},
		&cli.StringFlag{Name: "signer-key", EnvVars: []string{"MTLSCTL_SIGNER_KEY"}, Usage: "with --signer: this " + who + "'s key `FILE`"},
	}
}

// issueViaSigner issues jobs through the signer: each key made here,
// each CSR signed there and recorded in its database before it comes
// back, each certificate, key and CSR written here as one set. The
// directory holds the issuing CA's certificate (ca.pem), to check the
// answers, and no inventory: the signer's database is the record.
func issueViaSigner(u *ui, c *cli.Context, d *pkidir.Dir, res *result, jobs []pkidir.Job) error {
	for _, f := range []string{"p12", "issuer", "ca-key", "config", "expiry", "not-after"} {
		if c.IsSet(f) {
			return usageErrorf("--%s does not apply with --signer: the signer holds the CA key and its configuration (its profile sets the lifetime)", f)
		}
	}
	pool, pair, err := signerCredentials(c)
	if err != nil {
		return err
	}
	issuing, err := issuingCA(c, d, "what the signer answers")
	if err != nil {
		return err
	}
	key, err := signer.LoadHMACKey(envOr("MTLSCTL_SIGNER_HMAC_FILE"), "MTLSCTL_SIGNER_HMAC")
	if err != nil {
		return err
	}
	remote, err := signer.NewRemote(c.String("signer"), pool, pair, key, issuing)
	if err != nil {
		return usageErrorf("--signer: %v", err)
	}
	rjobs, err := signer.PlanRunnerJobs(d, jobs, c.Bool("force"))
	if err != nil {
		return err
	}
	bar := newProgress(u, len(rjobs), !c.Bool("json"))
	results := remote.IssueBatch(c.Context, rjobs, c.String("profile"), c.Bool("force"), bar.update)
	bar.finish()
	out := &pkidir.IssueResult{}
	for i, r := range results {
		if r.Err != nil {
			out.Failed = append(out.Failed, pkidir.Failure{CN: rjobs[i].CN, Name: rjobs[i].Name, Error: r.Err.Error()})
			continue
		}
		out.Issued = append(out.Issued, pkidir.IssuedCert{CN: rjobs[i].CN, Name: rjobs[i].Name, Cert: r.Cert, Files: r.Written})
	}
	res.Recorded = "the signer's database (" + remote.URL + ")"
	// As a local batch: 3 when some were issued and written and others
	// not (named), 2 when none was.
	return reportIssued(u, c, d, res, out, len(rjobs))
}

// issuingCA is the issuing CA's certificate a runner or an admin keeps
// (--ca, else DIR/ca.pem): the signer's answers are checked against it.
func issuingCA(c *cli.Context, d *pkidir.Dir, what string) (*x509.Certificate, error) {
	caFile := c.String("ca")
	if caFile == "" {
		caFile = d.CA(dirview.RootName).Cert
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		// The signer's issuing CA is the root only without --issuer; and
		// no quoted command in the hint, which would get this --dir.
		return nil, &pkix.Error{File: caFile, Msg: "the issuing CA's certificate is needed to check " + what, Hint: "copy the certificate the signer issues with here as ca.pem (on the signing host: DIR/NAME.pem when it runs signer serve --issuer NAME, else DIR/ca.pem), or give --ca FILE", Err: err}
	}
	return pemutil.ParseCertificatePEM(caFile, caPEM)
}
