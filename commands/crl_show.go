package commands

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func crlShowCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a CRL (DER or PEM): number, dates, and every revoked serial",
		ArgsUsage: "[CRL-FILE]",
		Description: `Prints a CRL's kind, number, issuer, this and next update, and each entry:
the serial as Access's certSerial shows it and in OpenSSL's colon form, the
revocation date and reason (an explicit "unspecified" is shown; "-" means
the entry has no reason code). Names are printed as OpenSSL's
-nameopt RFC2253 prints them.

The kind is "complete", or what else the CRL is: "delta" (a Delta CRL
Indicator), "partitioned" (an Issuing Distribution Point) or "indirect"
(entries of another CA). serve, check and worker build refuse those as a
CA's revocation list, and a CRL with a critical extension mtlsctl does not
understand (RFC 5280 §5.2, §5.3), each with the reason; --json lists the
reasons in "refusals". A CRL without a next update shows "none" (null in
--json), with a warning.

A CRL that RFC 5280 says must not be used exits 1. With --ca the
signature is verified, and a CRL that does not verify exits 1;
"signature_failure" names
what failed: issuer name, key identifier, algorithm (one Go cannot check,
such as DSA or MD2), signature, or key usage (no cRLSign). Without --ca,
the directory's CA that signed it is used (DIR/ca.pem or an intermediate's
certificate); when none did, the signature is not checked, with a warning.

EXAMPLES:
   mtlsctl crl show                 # DIR/ca.crl, checked against DIR/ca.pem
   mtlsctl crl show --json ca.crl | jq -r '.entries[].serial'`,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "ca", Usage: "verify the signature with this CA certificate `FILE` (default DIR/ca.pem when it exists)"},
			jsonFlag(),
		},
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
	Reason       string    `json:"reason,omitempty"` // absent when the entry has no reasonCode
}

type crlShowReport struct {
	File       string     `json:"file"`
	Kind       string     `json:"kind"` // complete, delta, partitioned, indirect
	Number     string     `json:"number"`
	Issuer     string     `json:"issuer"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate *time.Time `json:"next_update"` // null when the CRL has none
	SigAlg     string     `json:"signature_algorithm"`
	Signature  string     `json:"signature"` // "verified with FILE", "INVALID", "not checked"
	// SignatureFailure names what failed when Signature is INVALID:
	// issuer name, key identifier, algorithm, signature or key usage.
	SignatureFailure string `json:"signature_failure,omitempty"`
	// Refusals say why serve, check and worker build refuse the CRL as
	// its CA's complete list; empty when they take it.
	Refusals []string `json:"refusals"`
	Count    int      `json:"count"`
	// Entries are []crlEntryReport, streamed by writeCRLShowJSON in the
	// place this marker holds.
	Entries  json.RawMessage `json:"entries"`
	Warnings []string        `json:"warnings"`
}

func runCRLShow(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	root := d.CA(dirview.RootName)
	path := c.Args().First()
	if path == "" {
		path = root.CRL
	}
	// Read once for what the CRL is, then its entries streamed to the
	// output: a million entries are never held.
	scan := func(file string, data []byte) (*crl.RevocationList, error) { return crl.ScanCRL(file, data, nil) }
	rl, err := loadFileAs(c, input.InputCRL, path, scan, "build one with 'mtlsctl crl build serials.txt'")
	if err != nil {
		return err
	}
	if path == "-" {
		path = "stdin"
	}
	rep := crlShowReport{File: path, Kind: rl.Kind, Issuer: rl.IssuerName(), ThisUpdate: rl.ThisUpdate.UTC(),
		SigAlg: rl.SignatureAlgorithm, Signature: "not checked", Refusals: append([]string{}, rl.Refusals...), Count: rl.Count,
		Warnings: append([]string{}, rl.Warnings...)}
	if !rl.NextUpdate.IsZero() {
		next := rl.NextUpdate.UTC()
		rep.NextUpdate = &next
	}
	if rl.Number != nil {
		rep.Number = rl.Number.String()
	}
	caPath, explicit := inputPath(c, "ca", root.Cert)
	if !explicit {
		// The directory's CA that signed it: the root, or an intermediate.
		if issuer, ok := d.CRLIssuer(rl); ok {
			caPath = issuer
		}
	}
	badSignature := false
	if explicit || atomicfile.Exists(caPath) {
		ca, err := loadFileAs(c, input.InputCertificates, caPath, pemutil.ParseCertificatePEM, "")
		if err != nil {
			return err
		}
		caLabel := caPath
		if caPath == "-" {
			caLabel = "stdin"
		}
		v := rl.JudgeSignature(ca, caLabel, explicit)
		rep.Signature, rep.SignatureFailure, badSignature = v.Signature, v.Failure, v.Invalid
		if v.Warning != "" {
			rep.Warnings = append(rep.Warnings, v.Warning)
		}
	}
	if !rl.NextUpdate.IsZero() && time.Now().After(rl.NextUpdate) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("the CRL's next update (%s) has passed: consumers treat it as stale; rebuild it", rl.NextUpdateText()))
	}
	for _, r := range rep.Refusals {
		u.warn("not a complete revocation list: %s", r)
	}
	for _, w := range rep.Warnings {
		u.warn("%s", w)
	}
	if err := printCRLShow(u, c.Bool("json"), rep, rl); err != nil {
		return err
	}
	switch {
	case badSignature:
		return &problemsFound{summary: path + ": the CRL's signature does not verify (" + rep.SignatureFailure + ")"}
	case rl.MustNotUse:
		return &problemsFound{summary: path + ": RFC 5280 says this CRL must not be used"}
	}
	return nil
}

func entryReport(e crl.CRLEntry) crlEntryReport {
	er := crlEntryReport{Serial: x509text.SerialHex(e.Serial), SerialColons: crl.SerialColons(e.Serial), Date: e.Date.UTC()}
	if e.HasReason {
		er.Reason = e.Reason.String()
	}
	return er
}

// writeCRLShowJSON writes rep as printJSON does (two-space indent) with
// the CRL's entries streamed in place: the report is marshalled with a
// marker where the entries go, and each entry as it is read.
func writeCRLShowJSON(w io.Writer, rep crlShowReport, rl *crl.RevocationList) error {
	const marker = `\u0000entries` // a JSON escape: no name or file holds a NUL
	rep.Entries = json.RawMessage(`"` + marker + `"`)
	head, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	before, after, ok := bytes.Cut(head, []byte(`"`+marker+`"`))
	if !ok {
		return fmt.Errorf("internal error: no place for the entries")
	}
	w.Write(before)
	if rl.Count == 0 {
		io.WriteString(w, "[]")
	} else {
		io.WriteString(w, "[\n    ")
		first := true
		var werr error
		err := rl.EachEntry(func(e crl.CRLEntry) {
			if !first {
				io.WriteString(w, ",\n    ")
			}
			first = false
			b, err := json.MarshalIndent(entryReport(e), "    ", "  ")
			if err != nil && werr == nil {
				werr = err
			}
			w.Write(b)
		})
		if err != nil || werr != nil {
			return errors.Join(err, werr)
		}
		io.WriteString(w, "\n  ]")
	}
	w.Write(after)
	_, err = io.WriteString(w, "\n")
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printCRLShow writes the CRL's report and every entry. A million entries
// are written as they are formatted, through a buffer: never held as a
// report, never one write each.
func printCRLShow(u *ui, asJSON bool, rep crlShowReport, rl *crl.RevocationList) error {
	out := bufio.NewWriterSize(u.out, 1<<16)
	if asJSON {
		if err := writeCRLShowJSON(out, rep, rl); err != nil {
			return err
		}
		return out.Flush()
	}
	kind := rep.Kind
	if rep.Kind != "complete" {
		kind += " (not a complete list: serve, check and worker build refuse it)"
	}
	sig := rep.Signature
	if rep.SignatureFailure != "" {
		sig += " (" + rep.SignatureFailure + ")"
	}
	fmt.Fprintf(out, "%s\n  kind         %s\n  number       %s\n  issuer       %s\n  this update  %s\n  next update  %s\n  signature    %s, %s\n  revoked      %d\n",
		x509text.Printable(rep.File), kind, orDash(rep.Number), rep.Issuer, rep.ThisUpdate.Format(time.RFC3339), rl.NextUpdateText(), rep.SigAlg, sig, rep.Count)
	err := rl.EachEntry(func(e crl.CRLEntry) {
		er := entryReport(e)
		fmt.Fprintf(out, "    %s  %s  %s  %s\n", er.Serial, er.SerialColons, er.Date.Format(time.RFC3339), orDash(er.Reason))
	})
	if err != nil {
		return err
	}
	return out.Flush()
}
