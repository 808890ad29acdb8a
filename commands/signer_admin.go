package commands

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// signerCredentials reads what a runner or an admin presents to the
// signer: the signer CA to trust, its certificate and key.
func signerCredentials(c *cli.Context) (*x509.CertPool, tls.Certificate, error) {
	for _, f := range []string{"signer-ca", "signer-cert", "signer-key"} {
		if c.String(f) == "" {
			return nil, tls.Certificate{}, usageErrorf("--signer needs --%s (or its MTLSCTL_ variable)", f).hint("the signer's admin gives signer/ca.pem, NAME.pem and NAME-key.pem")
		}
	}
	signerCAPEM, err := os.ReadFile(c.String("signer-ca"))
	if err != nil {
		return nil, tls.Certificate{}, &pkix.Error{File: c.String("signer-ca"), Msg: "cannot be read", Err: err}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(signerCAPEM) {
		return nil, tls.Certificate{}, &pkix.Error{File: c.String("signer-ca"), Msg: "holds no PEM certificate"}
	}
	pair, err := tls.LoadX509KeyPair(c.String("signer-cert"), c.String("signer-key"))
	if err != nil {
		return nil, tls.Certificate{}, &pkix.Error{File: c.String("signer-cert"), Msg: "the certificate and key for the signer: " + err.Error()}
	}
	return pool, pair, nil
}

func signerAdmin(c *cli.Context) (*signer.Admin, error) {
	pool, pair, err := signerCredentials(c)
	if err != nil {
		return nil, err
	}
	a, err := signer.NewAdmin(c.String("signer"), pool, pair)
	if err != nil {
		return nil, usageErrorf("--signer: %v", err)
	}
	return a, nil
}

// listViaSigner is 'client list --signer': the one inventory, the
// signer's database.
func listViaSigner(u *ui, c *cli.Context) error {
	a, err := signerAdmin(c)
	if err != nil {
		return err
	}
	f := signer.ListFilter{CN: c.String("cn")}
	switch {
	case c.Bool("revoked"):
		f.Status = "revoked"
	case c.Bool("valid"):
		f.Status = string(inventory.StatusValid)
	}
	if s := c.String("expiring"); s != "" {
		if f.Expiring, err = parseDuration("expiring", s); err != nil {
			return err
		}
	}
	rows, err := a.List(f)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return u.printJSON(rows)
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATUS\tCN\tNOT AFTER\tRUNNER")
	for _, r := range rows {
		status := r.Status
		if r.Reason != "" {
			status += " (" + r.Reason + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Serial, status, x509text.Printable(r.CN), r.NotAfter.UTC().Format("2006-01-02"), x509text.Printable(r.Runner))
	}
	return tw.Flush()
}

// revokeViaSigner is 'client revoke --signer': by --serial, or by a CN
// that names exactly one valid certificate in the signer's database.
func revokeViaSigner(u *ui, c *cli.Context) error {
	for _, f := range []string{"cert", "foreign", "issuer", "all", "crl"} {
		if c.IsSet(f) {
			return usageErrorf("--%s does not apply with --signer", f).hint("revoke by --serial HEX or by CN; publish with 'mtlsctl crl build --signer'")
		}
	}
	a, err := signerAdmin(c)
	if err != nil {
		return err
	}
	serial := c.String("serial")
	switch name := c.Args().First(); {
	case serial != "" && name != "":
		return usageErrorf("give a CN or --serial, not both")
	case serial == "" && name == "":
		return usageErrorf("revoke what? give a CN or --serial HEX")
	case serial == "":
		if serial, err = a.ValidSerialOf(name); err != nil {
			return err
		}
	}
	ans, err := a.Revoke(serial, c.String("reason"))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return u.printJSON(ans)
	}
	if ans.Revoked {
		fmt.Fprintln(u.out, u.hints.complete(fmt.Sprintf("revoked serial %s in the signer's database; publish it: mtlsctl crl build --signer …", ans.Serial)))
	} else {
		fmt.Fprintf(u.out, "serial %s was already revoked; nothing changed\n", ans.Serial)
	}
	return nil
}

// crlViaSigner is 'crl build --signer': the CRL the signer signs from its
// database, checked against DIR/ca.pem, written whole to --out.
func crlViaSigner(u *ui, c *cli.Context, d *pkidir.Dir) error {
	if c.Args().Len() > 0 {
		return usageErrorf("with --signer the CRL comes from the signer's database: no serials file")
	}
	nextUpdate, err := parseDuration("next-update", c.String("next-update"))
	if err != nil {
		return err
	}
	a, err := signerAdmin(c)
	if err != nil {
		return err
	}
	var crl *x509.RevocationList
	var der []byte
	var issuing *x509.Certificate
	out := c.String("out")
	if c.IsSet("ca") {
		if issuing, err = issuingCA(c, d, "the signer's CRL"); err != nil {
			return err
		}
		if crl, der, err = a.CRL(nextUpdate, issuing); err != nil {
			return err
		}
		if out == "" {
			out = d.CA(dirview.RootName).CRL
		}
	} else {
		// Which CA of the directory signed it (--issuer NAME, the root, or
		// the intermediate the signer runs with) is pkidir's to say.
		if crl, der, err = a.FetchCRL(nextUpdate); err != nil {
			return err
		}
		ca, cert, err := d.SignerCRLCA(c.String("issuer"), crl)
		if err != nil {
			return err
		}
		issuing = cert
		if out == "" {
			out = ca.CRL
		}
	}
	data := der
	if c.Bool("pem") {
		data = pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	}
	if out == "-" {
		_, err := u.out.Write(data)
		return err
	}
	w, err := d.PublishCRL(out, issuing, data, fmt.Sprintf("CRL from the signer (number %s, %d revoked)", crl.Number, len(crl.RevokedCertificateEntries)), c.Bool("force"))
	if err != nil {
		return err
	}
	res := newResult("crl build")
	res.addWritten(w, nil)
	return u.report(res, c.Bool("json"))
}

// signerCheckItems is what 'check --signer' checks: the CA in DIR/ca.pem
// and the valid certificates in the signer's database.
func signerCheckItems(c *cli.Context, d *pkidir.Dir) ([]pkidir.CheckCert, []inventory.Record, error) {
	root := d.CA(dirview.RootName)
	certs, err := loadFileAs(c, input.InputCertificates, root.Cert, pemutil.ParseCertificatesPEM, "the issuing CA's certificate is needed: copy the certificate the signer issues with to "+root.Cert+" (on the signing host: DIR/NAME.pem when it runs signer serve --issuer NAME, else DIR/ca.pem)")
	if err != nil {
		return nil, nil, err
	}
	var given []pkidir.CheckCert
	for _, cert := range certs {
		given = append(given, pkidir.CheckCert{File: root.Cert, Cert: cert})
	}
	a, err := signerAdmin(c)
	if err != nil {
		return nil, nil, err
	}
	rows, err := a.List(signer.ListFilter{Status: string(inventory.StatusValid)})
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	var records []inventory.Record
	for _, r := range rows {
		if r.NotAfter.Before(now.Add(-24 * time.Hour)) {
			continue // long expired: nothing to renew, and no longer anyone's
		}
		records = append(records, inventory.Record{Kind: inventory.KindClient, Name: r.CN, CN: r.CN, Serial: r.Serial, NotAfter: r.NotAfter})
	}
	return given, records, nil
}

// signerCRLBehind compares the CRL given with the database: a revoked
// certificate it does not list still gets in where the CRL is used.
func signerCRLBehind(c *cli.Context, crlPath string, crl *crl.RevocationList) (string, error) {
	a, err := signerAdmin(c)
	if err != nil {
		return "", err
	}
	revoked, err := a.List(signer.ListFilter{Status: "revoked"})
	if err != nil || len(revoked) == 0 {
		return "", err
	}
	if crl == nil {
		return fmt.Sprintf("the signer's database has %d revoked certificate%s and no CRL was given (--crl FILE): publish one with 'mtlsctl crl build --signer …'", len(revoked), plural(len(revoked))), nil
	}
	missing := signer.MissingFromCRL(crl, revoked)
	if len(missing) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%s does not list %d certificate%s the signer's database marks revoked (%s): rebuild it with 'mtlsctl crl build --signer …'",
		crlPath, len(missing), plural(len(missing)), strings.Join(missing[:min(len(missing), 5)], ", ")), nil
}
