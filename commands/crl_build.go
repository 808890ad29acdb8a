package commands

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// crlBuildDescription is crl build's --help: the serials file's format and
// what the CRL carries.
const crlBuildDescription = `Builds a version 2 CRL signed by the CA in DIR, from a file with one revoked
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
backwards, even when two builds race: they take the directory's lock), the
CA's Authority Key Identifier, reason codes, and is signed with the CA's own
algorithm (SHA-512 for an RSA-4096 CA). ca.crl is replaced atomically; a bad
line changes nothing.

A revocation is final: a new CRL that leaves out a serial the CRL in force
lists, or that the inventory records as revoked by this CA, is refused (an
empty or truncated serials file must not un-revoke anyone). Lifting a
certificateHold is the one exception: name each serial with
--allow-unrevoke, and the inventory marks it valid again.

A ca.crl that is a symlink (published into a web server's directory) is
followed only when it points at this CA's CRL; the target is replaced in
place and the link kept. A link to anything else is refused.

--all rebuilds the CRL of every CA in DIR, each from its own serials file
(serials.txt, NAME-serials.txt; none is an empty list), in one transaction:
the root's, each intermediate's, and each retired key's (kept by a re-key)
while a certificate it issued is unexpired. A CA whose key is not in DIR
(a root kept offline) is skipped with a note. With --if-due 3d, nothing is
rebuilt unless some CRL is missing or due within 3 days (the daily job).

EXAMPLES:
   openssl x509 -in client.pem -noout -serial | cut -d= -f2 >> serials.txt
   mtlsctl crl build --all --if-due 3d --next-update 7d
   mtlsctl crl build serials.txt
   mtlsctl crl build --pem --out ca.crl.pem --next-update 30d serials.txt
   mtlsctl crl build --out - serials.txt | openssl crl -inform DER -noout -text`

func crlBuildCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:        "build",
		Usage:       "build a CRL from a file of hex serials: ca.crl (DER)",
		ArgsUsage:   "SERIALS-FILE | --all",
		Description: crlBuildDescription,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.BoolFlag{Name: "all", Usage: "rebuild every CA's CRL in DIR (root, intermediates, retired keys still in use) from its own serials file, in one transaction"},
			&cli.StringFlag{Name: "if-due", Usage: "with --all: rebuild only when a CRL is missing or its next update is within `DURATION` (e.g. 3d)"},
			&cli.StringFlag{Name: "issuer", Usage: "build the CRL of the directory's intermediate `NAME` (DIR/NAME.crl from DIR/NAME.pem)"},
			signingCAFlag(),
			signingCAKeyFlag(),
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Usage: "output `FILE` (default DIR/ca.crl; - for stdout)"},
			&cli.BoolFlag{Name: "pem", Usage: "write PEM (X509 CRL) instead of DER"},
			nextUpdateFlag(""),
			&cli.BoolFlag{Name: "decimal", Usage: "read decimal serials (as cfssl does) instead of hex"},
			&cli.BoolFlag{Name: "strict", Usage: "refuse serials that DIR/inventory.tsv does not know"},
			&cli.BoolFlag{Name: "force", Usage: "replace an output that is not a CRL of this CA, keeping it as NAME.bak"},
			&cli.StringSliceFlag{Name: "allow-unrevoke", Usage: "let the new CRL leave out this revoked `SERIAL` (lifting a certificateHold); repeat for each"},
			jsonFlag(),
		}, signerClientFlags(true)...),
		Action: func(c *cli.Context) error {
			if c.Bool("all") || c.IsSet("if-due") {
				return runCRLBuildAll(u, c)
			}
			if c.String("signer") != "" {
				d, err := openDir(c)
				if err != nil {
					return err
				}
				return crlViaSigner(u, c, d)
			}
			if c.Args().Len() != 1 {
				if c.Args().Len() == 0 {
					return usageErrorf("crl build needs the serials file").hint("%s", serialsFileHint(c))
				}
				e := usageErrorf("crl build takes one serials file, got %d arguments", c.Args().Len())
				if a := c.Args().Slice(); len(a) == 3 {
					// cfssl's order: gencrl SERIALS CA-CERT CA-KEY
					return e.hint("the CA is given by flags, not after the serials: mtlsctl crl build --ca %s --ca-key %s %s", a[1], a[2], a[0])
				}
				return e.hint("see '%s --help'", c.Command.HelpName)
			}
			return runCRLBuild(u, c)
		},
	}
}

func runCRLBuild(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
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
	out := c.String("out")
	if out == "-" && c.Bool("json") {
		return usageErrorf("--json and --out - both want stdout").hint("write the CRL to a file with --out FILE")
	}
	if out == "-" && !c.Bool("pem") && isTerminal(u.out) {
		return usageErrorf("refusing to write a binary DER CRL to the terminal").hint("add --pem, or redirect: --out - > ca.crl")
	}
	var allow []string
	for _, s := range c.StringSlice("allow-unrevoke") {
		serial, err := parseSerialFlag("allow-unrevoke", s)
		if err != nil {
			return err
		}
		allow = append(allow, serial)
	}
	req := &revocation.CRLRequest{Issuer: c.String("issuer"), Out: out, Stdout: u.out, PEM: c.Bool("pem"), Decimal: c.Bool("decimal"),
		Strict: c.Bool("strict"), Force: c.Bool("force"), NextUpdate: nextUpdate, AllowUnrevoke: allow}
	if req.Issuer != "" && (c.IsSet("ca") || c.IsSet("ca-key")) {
		return usageErrorf("--issuer and --ca/--ca-key both name the signing CA").hint("use one or the other")
	}
	if req.CA, err = loadCAInput(c, d); err != nil {
		return err
	}
	req.SerialsFile, req.Stdin = c.Args().First(), c.App.Reader
	// The serials file is a path like any other, from the current
	// directory; the guide's serials.txt usually sits in --dir.
	if f := req.SerialsFile; f != "-" && !filepath.IsAbs(f) && !atomicfile.Exists(f) && atomicfile.Exists(d.File(f)) {
		return &pkix.Error{File: f, Msg: "no such file", Err: fs.ErrNotExist,
			Hint: fmt.Sprintf("%s exists: paths are relative to the current directory, not --dir; give %s", d.File(f), d.File(f))}
	}
	res, err := d.BuildCRL(c.Context, req)
	if err != nil {
		return err
	}
	r := newResult("crl build")
	r.Notes = append(append(r.Notes, res.Repaired...), res.Notes...)
	r.Warnings = append(r.Warnings, res.Warnings...)
	r.addWritten(res.Written, nil)
	summary := crlSummary(res.CRL, c.Bool("json"))
	r.CRL = &summary
	if out == "-" {
		// stdout holds the CRL; the report goes to stderr.
		return (&ui{out: u.err, err: u.err, errColor: u.errColor, hints: u.hints}).reportCRL(r, false)
	}
	return u.reportCRL(r, c.Bool("json"))
}

// serialsFileHint names the serials file of the CA crl build was asked
// for (DIR/serials.txt, DIR/NAME-serials.txt for --issuer NAME), quoted,
// in a command that can be pasted: a bare "serials.txt" was relative to
// the current directory, not DIR, and the "(- reads stdin)" glued to it
// was a shell syntax error. hintflags adds --dir and --issuer.
func serialsFileHint(c *cli.Context) string {
	name := c.String("issuer")
	if name == "" {
		name = dirview.RootName
	}
	serials := "serials.txt"
	if d, err := openDir(c); err == nil {
		serials = d.CA(name).Serials
	}
	return fmt.Sprintf("build it from the serials %s revokes: 'mtlsctl crl build %s' (or - for stdin); every CA's at once: 'mtlsctl crl build --all'",
		name, x509text.ShellQuote(serials))
}
