package commands

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

func crlCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "build and read certificate revocation lists",
		Subcommands: []*cli.Command{
			crlBuildCommand(u),
			crlShowCommand(u),
		},
		Action: groupAction,
	}
}

// listLimit is how many serials text output lists before summarising;
// --json and "crl show" always list every one.
const listLimit = 50

func crlBuildCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "build",
		Usage:     "build a CRL from a file of hex serials: ca.crl (DER)",
		ArgsUsage: "SERIALS-FILE",
		Description: `Builds a version 2 CRL signed by the CA in DIR, from a file with one revoked
serial per line. Replaces "cfssl gencrl serials.txt ca.pem ca-key.pem |
base64 -D > ca.crl", which reads the hex serials as decimal (the guide's
own hex serial revokes serial 07) and fails on Linux at "base64 -D".

The file: one serial per line, in hex (upper or lower case, optional 0x or
serial=, bytes optionally separated by ':', '-' or spaces, as OpenSSL prints
them), then optionally an RFC 5280 reason name and a revocation date
(RFC 3339 or YYYY-MM-DD). Blank lines and # comments are ignored; repeated
serials are listed once. --decimal reads cfssl-style decimal serials.

    7F3924DE0A1B2C3D
    7f:39:24:de:0a:1b:2c:3e  keyCompromise  2026-11-01
    0x01                      # a test certificate

The CRL carries a CRL Number one above the previous ca.crl's (never going
backwards), the CA's Authority Key Identifier, reason codes, and is signed
with the CA's own algorithm (SHA-512 for an RSA-4096 CA). ca.crl is replaced
atomically; a bad line changes nothing.

EXAMPLES:
   openssl x509 -in client.pem -noout -serial | cut -d= -f2 >> serials.txt
   mtlsctl crl build serials.txt
   mtlsctl crl build --pem --out ca.crl.pem --next-update 30d serials.txt
   mtlsctl crl build --out - serials.txt | openssl crl -inform DER -noout -text

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "ca", Usage: "CA certificate `FILE` (default DIR/ca.pem)"},
			&cli.StringFlag{Name: "ca-key", Usage: "CA private key `FILE` (default DIR/ca-key.pem)"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE` (default DIR/ca.crl; - for stdout)"},
			&cli.BoolFlag{Name: "pem", Usage: "write PEM (X509 CRL) instead of DER"},
			&cli.StringFlag{Name: "next-update", Value: "7d", Usage: "how long the CRL is valid: 7d, 30d, 168h"},
			&cli.BoolFlag{Name: "decimal", Usage: "read decimal serials (as cfssl does) instead of hex"},
			&cli.BoolFlag{Name: "strict", Usage: "refuse serials that DIR/inventory.tsv does not know"},
			&cli.BoolFlag{Name: "force", Usage: "replace an output that is not a CRL of this CA, keeping it as NAME.bak"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				if c.Args().Len() == 0 {
					return usageErrorf("crl build needs the serials file").hint("mtlsctl crl build serials.txt (- reads stdin)")
				}
				return usageErrorf("crl build takes one serials file, got %d arguments", c.Args().Len()).hint("see '%s --help'", c.Command.HelpName)
			}
			return runCRLBuild(u, c)
		},
	}
}

// crlOptions are crl build's inputs, resolved; revoke --crl uses them too.
type crlOptions struct {
	dir, serialsPath, caPath, keyPath, out string
	pem, decimal, force, json, strict      bool
	nextUpdate                             time.Duration
}

func runCRLBuild(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "ca", "ca-key"); err != nil {
		return err
	}
	nextUpdate, err := parseDuration("next-update", c.String("next-update"))
	if err != nil {
		return err
	}
	o := crlOptions{dir: dir, serialsPath: c.Args().First(), pem: c.Bool("pem"), decimal: c.Bool("decimal"),
		force: c.Bool("force"), json: c.Bool("json"), strict: c.Bool("strict"), nextUpdate: nextUpdate}
	o.out, _ = inputPath(c, "out", dir, "ca.crl")
	o.caPath, _ = inputPath(c, "ca", dir, "ca.pem")
	o.keyPath, _ = inputPath(c, "ca-key", dir, "ca-key.pem")
	if o.out == "-" && o.json {
		return usageErrorf("--json and --out - both want stdout").hint("write the CRL to a file with --out FILE")
	}
	if o.out == "-" && !o.pem && isTerminal(u.out) {
		return usageErrorf("refusing to write a binary DER CRL to the terminal").hint("add --pem, or redirect: --out - > ca.crl")
	}
	res, err := buildCRL(u, c.App.Reader, o)
	if err != nil {
		return err
	}
	if o.out == "-" {
		// stdout holds the CRL; the report goes to stderr.
		return (&ui{out: u.err, err: u.err, errColor: u.errColor}).reportCRL(res, false)
	}
	return u.reportCRL(res, o.json)
}

// buildCRL reads the CA, the previous CRL and the serials, signs, and
// writes the CRL (to stdout for --out -).
func buildCRL(u *ui, stdin io.Reader, o crlOptions) (*result, error) {
	res := newResult("crl build")
	toStdout := o.out == "-"
	keyPath, out, serialsPath := o.keyPath, o.out, o.serialsPath

	// Inputs: CA, key, the previous CRL (for its number), then the serials.
	ca, key, previous, err := crlSigner(stdin, o)
	if err != nil {
		return nil, err
	}
	force := o.force

	now := time.Now().UTC().Truncate(time.Second)
	var in io.Reader
	sizeHint := 0
	label := serialsPath
	if serialsPath == "-" {
		in, label = stdin, "stdin"
	} else {
		f, err := os.Open(serialsPath)
		if err != nil {
			_, rerr := pkix.ReadInput(serialsPath, nil) // same wording as every other input
			return nil, rerr
		}
		defer f.Close()
		if info, err := f.Stat(); err == nil {
			if info.IsDir() {
				return nil, &pkix.Error{File: serialsPath, Msg: "is a directory", Hint: "give the serials file, e.g. serials.txt"}
			}
			sizeHint = int(min(info.Size(), 1<<31))
		}
		in = f
	}
	builder := pkix.NewCRLBuilder(sizeHint, now)
	if err := pkix.ReadSerials(in, label, o.decimal, now, builder); err != nil {
		return nil, err
	}

	// Compute.
	crl, err := builder.Sign(pkix.CRLParams{Issuer: ca, Key: key, Number: pkix.NextCRLNumber(previousNumber(previous), now),
		ThisUpdate: now, NextUpdate: now.Add(o.nextUpdate)})
	if err != nil {
		return nil, &pkix.Error{File: keyPath, Msg: err.Error(), Hint: "CRLs can be signed with RSA, ECDSA or Ed25519 CA keys"}
	}
	noteDuplicates(res, label, crl.Duplicates)
	if crl.Count == 0 {
		res.Notes = append(res.Notes, label+" lists no serials: the CRL revokes nothing")
	}
	if err := checkAgainstInventory(res, o, label, crl); err != nil {
		return nil, err
	}

	// Write.
	write := func(w io.Writer) error { _, err := crl.WriteTo(w); return err }
	kind := "CRL (DER)"
	size := crl.Size
	if o.pem {
		write = crl.WritePEMTo
		kind = "CRL (PEM)"
		var n countingWriter
		crl.WritePEMTo(&n)
		size = int(n)
	}
	summary := crlSummary(crl, o.json)
	res.CRL = &summary
	if toStdout {
		if err := write(u.out); err != nil {
			return nil, &pkix.Error{File: "stdout", Msg: "cannot write: " + err.Error()}
		}
		return res, nil
	}
	written, err := pkix.WriteFiles([]pkix.File{{Path: out, Stream: write, Size: size, Mode: pkix.ModePublic, Kind: kind, Replace: !force}}, force)
	if err != nil {
		return nil, err
	}
	res.addWritten(written, nil)
	return res, nil
}

// checkAgainstInventory warns about revoked serials the directory's
// inventory does not know (a typo, or another CA's certificate); --strict
// makes that an error.
func checkAgainstInventory(res *result, o crlOptions, label string, crl *pkix.CRL) error {
	inv, err := pkix.ReadInventory(o.dir)
	if err != nil || len(inv.Records) == 0 {
		return nil // no inventory: nothing to compare with
	}
	var unknown, unmarked []string
	crl.EachSerial(crl.Count, func(n *big.Int) {
		h := pkix.SerialHex(n)
		if r, ok := inv.Lookup(h); !ok {
			unknown = append(unknown, h)
		} else if r.Status != "revoked" {
			unmarked = append(unmarked, h)
		}
	})
	if len(unmarked) > 0 {
		// Revoked the guide's way (serials.txt edited by hand): the CRL is
		// right, but list and check still count these as valid.
		res.Notes = append(res.Notes, fmt.Sprintf("%s: %d serial%s the inventory still lists as not revoked (e.g. %s): record with 'mtlsctl client revoke --serial HEX'",
			label, len(unmarked), plural(len(unmarked)), unmarked[0]))
	}
	if len(unknown) == 0 {
		return nil
	}
	shown := unknown[:min(len(unknown), 10)]
	msg := fmt.Sprintf("%s: %d serial%s not in %s: %s", label, len(unknown), plural(len(unknown)), inv.Path, strings.Join(shown, ", "))
	if len(unknown) > len(shown) {
		msg += fmt.Sprintf(" and %d more", len(unknown)-len(shown))
	}
	if o.strict {
		return &pkix.Error{Msg: msg, Hint: "check for typos; drop --strict to revoke serials mtlsctl did not issue"}
	}
	res.Warnings = append(res.Warnings, msg+" (a typo, or a certificate mtlsctl did not issue?)")
	return nil
}

func stdinLabel(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

func withMissingHint(err error, hint string) error {
	if pe, ok := err.(*pkix.Error); ok && pe.Msg == "no such file" {
		pe.Hint = hint
	}
	return err
}

func previousNumber(h *pkix.CRLHeader) *big.Int {
	if h == nil {
		return nil
	}
	return h.Number
}

type countingWriter int

func (n *countingWriter) Write(p []byte) (int, error) {
	*n += countingWriter(len(p))
	return len(p), nil
}

func noteDuplicates(res *result, label string, dups []pkix.Duplicate) {
	for i, d := range dups {
		if i == 10 {
			res.Notes = append(res.Notes, fmt.Sprintf("%s: %d more repeated serials listed once", label, len(dups)-10))
			break
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%s:%d: serial %s repeats line %d; listed once", label, d.Line, pkix.SerialHex(d.Serial), d.FirstLine))
	}
}

// crlReport is the CRL part of --json, and what the text output prints.
type crlReport struct {
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	SigAlg     string    `json:"signature_algorithm"`
	Count      int       `json:"count"`
	Serials    []string  `json:"serials"`
}

// crlSummary lists every serial for --json, and only the first listLimit
// for text, so a million-entry CRL is not turned into a million strings
// just to print fifty.
func crlSummary(crl *pkix.CRL, all bool) crlReport {
	limit := crl.Count
	if !all {
		limit = min(limit, listLimit)
	}
	r := crlReport{Number: crl.Number.String(), ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate,
		SigAlg: crl.SigAlg.String(), Count: crl.Count, Serials: make([]string, 0, limit)}
	crl.EachSerial(limit, func(n *big.Int) { r.Serials = append(r.Serials, pkix.SerialHex(n)) })
	return r
}

func (u *ui) reportCRL(res *result, asJSON bool) error {
	if asJSON {
		return u.report(res, true)
	}
	if len(res.Files) > 0 {
		if err := u.report(res, false); err != nil {
			return err
		}
	} else {
		for _, n := range res.Notes {
			u.note("%s", n)
		}
		fmt.Fprintf(u.out, "wrote the CRL to stdout\n")
	}
	r := res.CRL
	fmt.Fprintf(u.out, "  number       %s\n  this update  %s\n  next update  %s\n  signature    %s\n  revoked      %d serial%s (as Access's certSerial)\n",
		r.Number, r.ThisUpdate.Format(time.RFC3339), r.NextUpdate.Format(time.RFC3339), r.SigAlg, r.Count, map[bool]string{true: "", false: "s"}[r.Count == 1])
	for _, s := range r.Serials {
		fmt.Fprintf(u.out, "    %s\n", s)
	}
	if more := r.Count - len(r.Serials); more > 0 {
		fmt.Fprintf(u.out, "    … and %d more (mtlsctl crl show, or --json, lists them all)\n", more)
	}
	return nil
}

// readPreviousCRL reads the header of the CRL at path: DER in place,
// without loading its entries; PEM by decoding it whole.
func readPreviousCRL(path string) (*pkix.CRLHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var first [1]byte
	if _, err := f.ReadAt(first[:], 0); err == nil && first[0] == 0x30 {
		return pkix.ReadCRLHeaderAt(path, f)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return pkix.ReadCRLHeader(path, data)
}

// crlSigner reads and checks what signs a CRL: the CA and its key (which
// must be able to sign CRLs), and the CRL already at the output, which
// must be this CA's unless --force (and is then ignored). revoke --crl
// runs it before changing anything; crl build as its first step.
func crlSigner(stdin io.Reader, o crlOptions) (*x509.Certificate, crypto.Signer, *pkix.CRLHeader, error) {
	caData, err := pkix.ReadInput(o.caPath, stdin)
	if err != nil {
		return nil, nil, nil, withMissingHint(err, "run 'mtlsctl ca init' first, or pass --ca")
	}
	ca, err := pkix.ParseCertificatePEM(stdinLabel(o.caPath), caData)
	if err != nil {
		return nil, nil, nil, err
	}
	keyData, err := pkix.ReadInput(o.keyPath, stdin)
	if err != nil {
		return nil, nil, nil, withMissingHint(err, "pass the CA key with --ca-key")
	}
	key, err := pkix.ParseKeyPEM(stdinLabel(o.keyPath), keyData)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := pkix.CheckCRLIssuer(o.caPath, ca, o.keyPath, key); err != nil {
		return nil, nil, nil, err
	}
	if o.out == "-" {
		return ca, key, nil, nil
	}
	if err := refuseOverwritingInputs([]pkix.File{{Path: o.out}}, true, o.caPath, o.keyPath, o.serialsPath); err != nil {
		return nil, nil, nil, err
	}
	if !pkix.Exists(o.out) {
		return ca, key, nil, nil
	}
	previous, err := readPreviousCRL(o.out)
	switch {
	case err != nil && !o.force:
		return nil, nil, nil, &pkix.Error{File: o.out, Msg: "exists and is not a CRL; refusing to replace it", Hint: "move it away, choose another --out, or pass --force to keep it as a .bak copy"}
	case err == nil && !previous.IssuedBy(ca) && !o.force:
		return nil, nil, nil, &pkix.Error{File: o.out, Msg: "is a CRL of another CA; refusing to replace it", Hint: "choose another --out, or pass --force to keep it as a .bak copy"}
	case err != nil || !previous.IssuedBy(ca):
		previous = nil // forced: a foreign file says nothing about our numbering
	}
	return ca, key, previous, nil
}
