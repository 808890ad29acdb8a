package commands

import (
	"bytes"
	"fmt"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func crlShowCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a CRL (DER or PEM): number, dates, and every revoked serial",
		ArgsUsage: "[CRL-FILE]",
		Description: `Prints a CRL's number, issuer, this and next update, and each entry: the
serial as Access's certSerial shows it and in OpenSSL's colon form, the
revocation date and reason. With --ca the signature is verified, and one
that does not verify (or a CRL of another CA) exits 1. Without --ca,
DIR/ca.pem is used when it exists and is the CRL's issuer; when it is
another CA the signature is not checked, with a warning.

EXAMPLES:
   mtlsctl crl show                 # DIR/ca.crl, checked against DIR/ca.pem
   mtlsctl crl show --json ca.crl | jq -r '.entries[].serial'

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "ca", Usage: "verify the signature with this CA certificate `FILE` (default DIR/ca.pem when it exists)"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("crl show takes one CRL file").hint("see '%s --help'", c.Command.HelpName)
			}
			return runCRLShow(u, c)
		},
	}
}

type crlEntryReport struct {
	Serial       string    `json:"serial"`
	SerialColons string    `json:"serial_openssl"`
	Date         time.Time `json:"revocation_date"`
	Reason       string    `json:"reason,omitempty"`
}

type crlShowReport struct {
	File       string           `json:"file"`
	Number     string           `json:"number"`
	Issuer     string           `json:"issuer"`
	ThisUpdate time.Time        `json:"this_update"`
	NextUpdate time.Time        `json:"next_update"`
	SigAlg     string           `json:"signature_algorithm"`
	Signature  string           `json:"signature"` // "verified", "INVALID", "not checked"
	Count      int              `json:"count"`
	Entries    []crlEntryReport `json:"entries"`
	Warnings   []string         `json:"warnings"`
}

func runCRLShow(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	root := d.CA(pkidir.RootName)
	path := c.Args().First()
	if path == "" {
		path = root.CRL
	}
	rl, err := loadFile(c, path, pkix.ParseCRL, "build one with 'mtlsctl crl build serials.txt'")
	if err != nil {
		return err
	}
	if path == "-" {
		path = "stdin"
	}
	rep := crlShowReport{File: path, Issuer: rl.Issuer.String(), ThisUpdate: rl.ThisUpdate.UTC(), NextUpdate: rl.NextUpdate.UTC(),
		SigAlg: rl.SignatureAlgorithm.String(), Signature: "not checked", Count: len(rl.RevokedCertificateEntries),
		Entries: []crlEntryReport{}, Warnings: []string{}}
	if rl.Number != nil {
		rep.Number = rl.Number.String()
	} else {
		rep.Warnings = append(rep.Warnings, "the CRL has no CRL Number (RFC 5280 requires one); cfssl gencrl makes such CRLs")
	}
	caPath, explicit := inputPath(c, "ca", root.Cert)
	badSignature := false
	if explicit || pkix.Exists(caPath) {
		ca, err := loadFile(c, caPath, pkix.ParseCertificatePEM, "")
		if err != nil {
			return err
		}
		caLabel := caPath
		if caPath == "-" {
			caLabel = "stdin"
		}
		if !bytes.Equal(rl.RawIssuer, ca.RawSubject) || (len(rl.AuthorityKeyId) > 0 && !bytes.Equal(rl.AuthorityKeyId, ca.SubjectKeyId)) {
			why := fmt.Sprintf("the CRL was issued by %s, not by the CA in %s", rl.Issuer.String(), caLabel)
			if bytes.Equal(rl.RawIssuer, ca.RawSubject) {
				why = fmt.Sprintf("the CRL was issued by another key than the CA in %s (same name, different Authority Key Identifier)", caLabel)
			}
			if explicit {
				rep.Signature = "INVALID"
				badSignature = true
				rep.Warnings = append(rep.Warnings, why)
			} else {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("signature not checked: %s is another CA (%s)", caLabel, ca.Subject.String()))
			}
		} else if err := rl.CheckSignatureFrom(ca); err != nil {
			rep.Signature = "INVALID"
			badSignature = true
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("the signature does not verify against %s: %v", caLabel, err))
		} else {
			rep.Signature = "verified with " + caLabel
		}
	}
	if !rl.NextUpdate.IsZero() && time.Now().After(rl.NextUpdate) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the CRL's next update (%s) has passed: consumers treat it as stale; rebuild it", rl.NextUpdate.UTC().Format(time.RFC3339)))
	}
	for _, e := range rl.RevokedCertificateEntries {
		er := crlEntryReport{Serial: pkix.SerialHex(e.SerialNumber), SerialColons: pkix.SerialColons(e.SerialNumber), Date: e.RevocationTime.UTC()}
		if e.ReasonCode != 0 {
			er.Reason = pkix.RevocationReason(e.ReasonCode).String()
		}
		rep.Entries = append(rep.Entries, er)
	}
	for _, w := range rep.Warnings {
		u.warn("%s", w)
	}
	if c.Bool("json") {
		if err := u.printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(u.out, "%s\n  number       %s\n  issuer       %s\n  this update  %s\n  next update  %s\n  signature    %s, %s\n  revoked      %d\n",
			rep.File, orDash(rep.Number), rep.Issuer, rep.ThisUpdate.Format(time.RFC3339), rep.NextUpdate.Format(time.RFC3339), rep.SigAlg, rep.Signature, rep.Count)
		for _, e := range rep.Entries {
			fmt.Fprintf(u.out, "    %s  %s  %s  %s\n", e.Serial, e.SerialColons, e.Date.Format(time.RFC3339), orDash(e.Reason))
		}
	}
	if badSignature {
		return &problemsFound{summary: path + ": the CRL's signature does not verify"}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
