package commands

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inspect"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func inspectCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show certificates, CSRs, CRLs and keys, with the fields Access shows",
		ArgsUsage: "FILE... (- for stdin)",
		Description: `Shows what a file holds, detected from its content (PEM or DER), not its
name: certificates (one or a bundle), CSRs, CRLs, private keys and PKCS#12
files (opened with MTLSCTL_P12_PASSWORD or --password-file).

For a certificate: subject, issuer, serial, validity and days left, key,
signature algorithm, key usage, extended key usage, SANs, basic
constraints, SKI/AKI, fingerprints, and a section "as Access shows it" with
Cloudflare's own field names and formats (request.cf.tlsClientAuth:
certSubjectDN, certSerial, certFingerprintSHA256, certNotAfter, ...) and the
forwarded Cf-Client-Cert-* headers. The values agree with OpenSSL's.

For a private key: its type and size, and which certificates in its
directory (or --dir) carry its public key. Key material is never printed.

--json prints JSON Lines: one compact JSON document per file, one per
line (jq reads the stream as it is; for one document use a single FILE),
the Access section keyed by Cloudflare's field names, for Worker tests.

A PKCS#12 file is opened with --password-file (a password that does not
open it is an error, exit 2) or MTLSCTL_P12_PASSWORD (there, only a note);
without a password it is only named.

EXAMPLES:
   mtlsctl inspect client.pem
   mtlsctl inspect --json client.pem | jq -r '.certificates[0].access.certSerial'
   mtlsctl inspect client-key.pem ca.crl ca-chain.pem`,
		Flags: []cli.Flag{
			inspectDirFlag(),
			passwordFileFlag(),
			&cli.BoolFlag{Name: "pem", Usage: "also print each certificate's DER in base64 (the Cf-Client-Cert-Der-Base64 header; --json always has it)"},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return usageErrorf("inspect needs a file").hint("mtlsctl inspect client.pem")
			}
			return runInspect(u, c)
		},
	}
}

func runInspect(u *ui, c *cli.Context) error {
	now := time.Now()
	var results []*inspect.Inspection
	stdinUsed := false
	// A PKCS#12 file is opened with the same password sources as export,
	// but a missing password only means its contents are not shown. A
	// --password-file is given for the files named: one it does not open
	// is an error, not the same words as no password at all.
	var p12pw inspect.P12Password
	if env := os.Getenv("MTLSCTL_P12_PASSWORD"); env != "" {
		p12pw = inspect.P12Password{Value: env, From: "MTLSCTL_P12_PASSWORD"}
	}
	if f := c.String("password-file"); f != "" {
		pw, err := p12Password(c)
		if err != nil {
			return err
		}
		p12pw = inspect.P12Password{Value: pw, From: stdinLabel(f), Required: true}
	}
	for _, path := range c.Args().Slice() {
		if path == "-" {
			if stdinUsed {
				return usageErrorf("- (stdin) given twice")
			}
			stdinUsed = true
		}
		data, err := input.ReadInput(path, c.App.Reader)
		if err != nil {
			return err
		}
		label := path
		if path == "-" {
			label = "stdin"
		}
		in, err := inspect.InspectWith(label, data, now, p12pw)
		if err != nil {
			return err
		}
		if in.Unreadable > 0 {
			// Some blocks read, some not: the report shows both, and the
			// log says so even under --json.
			u.warn("%s: %d block%s cannot be parsed (listed under 'also')", x509text.Printable(label), in.Unreadable, plural(in.Unreadable))
		}
		if len(in.Keys) > 0 {
			dir := c.String("dir")
			if dir == "" {
				dir = filepath.Dir(path)
			}
			certs, order := certificatesIn(dir)
			in.MatchKeys(certs, order)
		}
		results = append(results, in)
	}
	for _, in := range results {
		if c.Bool("json") {
			// JSON Lines: one compact document per line, so several
			// files make a stream any JSON Lines reader takes.
			if err := json.NewEncoder(u.out).Encode(in); err != nil {
				return err
			}
			continue
		}
		u.printInspection(in, c.Bool("pem"))
	}
	return nil
}

// certificatesIn reads every certificate file in dir, for matching keys.
func certificatesIn(dir string) (map[string][]*x509.Certificate, []string) {
	found := map[string][]*x509.Certificate{}
	var order []string
	entries, err := os.ReadDir(dir)
	if err != nil {
		return found, nil
	}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".pem") || strings.HasSuffix(name, ".crt") || strings.HasSuffix(name, ".cer")) {
			continue
		}
		path := filepath.Join(dir, name)
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		if certs, err := pemutil.ParseCertificatesPEM(path, data); err == nil {
			found[path] = certs
			order = append(order, path)
		}
	}
	sort.Strings(order)
	return found, order
}

func (u *ui) printInspection(in *inspect.Inspection, showDER bool) {
	fmt.Fprintf(u.out, "%s (%s)\n", x509text.Printable(in.File), in.Format)
	for i, d := range in.Certificates {
		if len(in.Certificates) > 1 {
			fmt.Fprintf(u.out, "certificate %d of %d\n", i+1, len(in.Certificates))
		}
		u.printCertDetail(d, showDER)
	}
	for _, r := range in.CSRs {
		fmt.Fprintf(u.out, "certificate request\n")
		rows := [][2]string{{"subject", r.Subject}, {"key", r.Key}, {"signature", fmt.Sprintf("%s (%s)", r.SignatureAlg, map[bool]string{true: "valid", false: "INVALID"}[r.SignatureValid])},
			{"SANs", orDash(strings.Join(r.SANs, ", "))}}
		u.printRows("  ", rows)
	}
	for _, r := range in.CRLs {
		fmt.Fprintf(u.out, "certificate revocation list (mtlsctl crl show lists its entries)\n")
		next := "none"
		if r.NextUpdate != nil {
			next = r.NextUpdate.Format(time.RFC3339)
		}
		u.printRows("  ", [][2]string{{"kind", r.Kind}, {"issuer", r.Issuer}, {"number", orDash(r.Number)}, {"this update", r.ThisUpdate.Format(time.RFC3339)},
			{"next update", next}, {"signature", r.SigAlg}, {"revoked", fmt.Sprint(r.Count)}})
		for _, why := range r.Refusals {
			fmt.Fprintf(u.out, "  not a complete revocation list: %s\n", x509text.Printable(why))
		}
		for _, w := range r.Warnings {
			fmt.Fprintf(u.out, "  note: %s\n", x509text.Printable(w))
		}
	}
	for _, k := range in.Keys {
		fmt.Fprintf(u.out, "private key (contents not shown)\n")
		belongs := "no certificate found"
		if len(k.MatchedBy) > 0 {
			belongs = strings.Join(k.MatchedBy, ", ")
		}
		if k.Encrypted {
			belongs = "unknown: the key is encrypted"
		}
		u.printRows("  ", [][2]string{{"type", k.Type}, {"belongs to", belongs}})
	}
	for _, o := range in.Other {
		fmt.Fprintf(u.out, "  also: %s\n", x509text.Printable(o))
	}
}

// printCertDetail prints a certificate's fields. Its DER in base64 (the
// Cf-Client-Cert-Der-Base64 header) is about 2 KB a certificate, which
// buried the fields of a bundle or a .p12: shown with --pem only.
func (u *ui) printCertDetail(d inspect.CertDetail, showDER bool) {
	left := fmt.Sprintf("%d days left", d.DaysLeft)
	if d.DaysLeft < 0 {
		left = fmt.Sprintf("EXPIRED %d days ago", -d.DaysLeft)
	}
	u.printRows("  ", [][2]string{
		{"subject", d.Subject}, {"issuer", d.Issuer}, {"serial", d.Serial},
		{"valid", fmt.Sprintf("%s to %s (%s)", d.NotBefore.Format(time.RFC3339), d.NotAfter.Format(time.RFC3339), left)},
		{"key", d.Key}, {"signature", d.SignatureAlg},
		{"key usage", orDash(strings.Join(d.KeyUsage, ", "))}, {"ext key usage", orDash(strings.Join(d.ExtKeyUsage, ", "))},
		{"SANs", orDash(strings.Join(d.SANs, ", "))}, {"basic constr.", d.BasicConstraints},
		{"SKI", orDash(d.SKI)}, {"AKI", orDash(d.AKI)}, {"SHA-1", d.SHA1}, {"SHA-256", d.SHA256},
	})
	fmt.Fprintf(u.out, "  as Access shows it (request.cf.tlsClientAuth)\n")
	a := d.Access
	u.printRows("    ", [][2]string{
		{"certSubjectDN", a.CertSubjectDN}, {"certIssuerDN", a.CertIssuerDN},
		{"certSubjectDNLegacy", a.CertSubjectDNLegacy}, {"certIssuerDNLegacy", a.CertIssuerDNLegacy},
		{"certSerial", a.CertSerial}, {"certFingerprintSHA1", a.CertFingerprintSHA1}, {"certFingerprintSHA256", a.CertFingerprintSHA256},
		{"certNotBefore", a.CertNotBefore}, {"certNotAfter", a.CertNotAfter}, {"certSKI", a.CertSKI}, {"certIssuerSKI", a.CertIssuerSKI},
	})
	fmt.Fprintf(u.out, "  forwarded to the origin\n")
	der := fmt.Sprintf("(%d characters of base64: --pem shows it)", len(d.Headers.DERBase64))
	if showDER {
		der = d.Headers.DERBase64
	}
	u.printRows("    ", [][2]string{{"Cf-Client-Cert-Sha256", d.Headers.SHA256}, {"Cf-Client-Cert-Der-Base64", der}})
}

// printRows prints name/value rows aligned. Values come from the files
// (SANs, names, paths): whatever is not printable in them is escaped, so a
// certificate cannot write escape codes or forged lines to the terminal.
func (u *ui) printRows(indent string, rows [][2]string) {
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	for _, r := range rows {
		fmt.Fprintf(u.out, "%s%-*s  %s\n", indent, width, r[0], x509text.Printable(r[1]))
	}
}
