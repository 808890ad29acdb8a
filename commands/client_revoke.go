package commands

import (
	"errors"
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/urfave/cli/v2"
)

func clientRevokeCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke client certificates: mark the inventory, append to the issuing CA's serials file",
		ArgsUsage: "[NAME]",
		Description: `Revokes by CN or file base name (NAME), by --serial HEX, or by --cert FILE.
The inventory marks it revoked and its serial is appended, in hex with the
reason and date, to the serials file of the CA that issued it:
DIR/serials.txt (the guide's file) for the root, DIR/NAME-serials.txt for
intermediate NAME; 'mtlsctl crl build' on that file makes the CRL, and
--crl rebuilds it (DIR/ca.crl, DIR/NAME.crl) in the same step. Everything
that can fail is checked before any file changes. A name that matches
several certificates is refused with the list, unless --all. Revoking
twice changes nothing (and rebuilds no CRL). With --reason keyCompromise,
every other valid certificate of the same key (the same RSA modulus or EC
point, whatever its encoding) is named: --all-with-key revokes them in the
same step, and 'mtlsctl check' fails while any of them stays valid.

EXAMPLES:
   mtlsctl client revoke device-7 --reason keyCompromise --crl
   mtlsctl client revoke --serial 7F:39:24:DE:0A
   mtlsctl client revoke --cert lost-laptop.pem --reason cessationOfOperation`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "serial", Usage: "revoke the certificate with this `HEX` serial"},
			&cli.StringFlag{Name: "cert", Usage: "revoke the certificate in `FILE`"},
			&cli.StringFlag{Name: "reason", Usage: "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, ..."},
			&cli.BoolFlag{Name: "foreign", Usage: "the certificate is not in the inventory (issued by a CA here, with another tool): revoke it anyway"},
			&cli.StringFlag{Name: "issuer", Usage: "with --foreign --serial: the `NAME` of the CA that issued it (ca for the root)"},
			&cli.BoolFlag{Name: "all", Usage: "revoke every certificate NAME matches"},
			&cli.BoolFlag{Name: "all-with-key", Usage: "with --reason keyCompromise: also revoke every other valid certificate of the same key (otherwise each is named in a warning)"},
			&cli.BoolFlag{Name: "crl", Usage: "also rebuild the issuing CA's CRL (DIR/ca.crl, or DIR/NAME.crl for intermediate NAME)"},
			nextUpdateFlag("--crl"),
			jsonFlag(),
		}, signerClientFlags(true)...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("revoke takes one NAME").hint("use --all to revoke every certificate a name matches")
			}
			return runClientRevoke(u, c)
		},
	}
}

func runClientRevoke(u *ui, c *cli.Context) error {
	if c.String("signer") != "" {
		return revokeViaSigner(u, c)
	}
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	req, err := revokeRequest(c)
	if err != nil {
		return err
	}
	out, err := d.Revoke(c.Context, req)
	if err != nil {
		if errors.Is(err, revocation.ErrAmbiguous) {
			return usageErrorf("%s", err.Error()).hint("%s", pkix.HintOf(err).Spell(spell))
		}
		return err
	}
	return reportRevoked(u, c, d, out)
}

// revokeRequest reads which certificate to revoke, and how, from the flags.
func revokeRequest(c *cli.Context) (*revocation.RevokeRequest, error) {
	req := &revocation.RevokeRequest{Name: c.Args().First(), All: c.Bool("all"), AllWithKey: c.Bool("all-with-key"), CRL: c.Bool("crl"), Foreign: c.Bool("foreign"), Issuer: c.String("issuer")}
	if (req.Issuer != "" || req.Foreign) && req.Name != "" {
		return nil, usageErrorf("--foreign and --issuer are for a certificate the inventory does not know").hint("give it by --serial HEX or --cert FILE")
	}
	if req.Issuer != "" && !req.Foreign {
		return nil, usageErrorf("--issuer says whose list a --foreign serial goes on").hint("add --foreign, or leave --issuer out: a recorded certificate's issuer is known")
	}
	selectors := 0
	for _, set := range []bool{req.Name != "", c.String("serial") != "", c.String("cert") != ""} {
		if set {
			selectors++
		}
	}
	if selectors != 1 {
		return nil, usageErrorf("say which certificate: a NAME, --serial HEX or --cert FILE (one of them)").hint("mtlsctl client revoke device-7")
	}
	var err error
	if req.Reason, err = reasonFlag(c.String("reason")); err != nil {
		return nil, err
	}
	if req.AllWithKey && req.Reason != crl.ReasonKeyCompromise {
		return nil, usageErrorf("--all-with-key revokes the other certificates of a compromised key").hint("add --reason keyCompromise")
	}
	if req.CRL {
		if req.NextUpdate, err = parseDuration("next-update", c.String("next-update")); err != nil {
			return nil, err
		}
	}
	switch {
	case c.String("serial") != "":
		if req.Serial, err = parseSerialFlag("serial", c.String("serial")); err != nil {
			return nil, err
		}
	case c.String("cert") != "":
		if req.Cert, err = loadFileAs(c, input.InputCertificates, c.String("cert"), pemutil.ParseCertificatePEM, ""); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// reasonFlag is --reason: an RFC 5280 reason a CRL entry may carry, or
// none when not given.
func reasonFlag(s string) (crl.RevocationReason, error) {
	var none crl.RevocationReason
	if s == "" {
		return none, nil
	}
	r, ok := crl.ParseReason(s)
	if !ok || s == "removeFromCRL" {
		e := usageErrorf("--reason %q is not an RFC 5280 reason", s)
		if want, ok := crl.SuggestReason(s); ok {
			return none, e.hint("did you mean --reason %s?", want)
		}
		return none, e.hint("reasons: %s", crl.ReasonNames())
	}
	return r, nil
}

// reportRevoked prints what a revocation did.
func reportRevoked(u *ui, c *cli.Context, d *pkidir.Dir, out *revocation.RevokeResult) error {
	res := newResult("client revoke")
	res.Notes = append(append(res.Notes, out.Repaired...), out.Notes...)
	res.Warnings = append(res.Warnings, out.Warnings...)
	res.Revoked = out.Revoked
	res.addWritten(out.Written, nil)
	if len(out.Revoked) > 0 {
		res.Recorded = d.Inventory()
	}
	if len(out.CRLs) > 0 {
		summary := crlSummary(out.CRLs[len(out.CRLs)-1], c.Bool("json"))
		res.CRL = &summary
	}
	if c.Bool("json") {
		return u.report(res, true)
	}
	for _, r := range res.Revoked {
		fmt.Fprintf(u.out, "revoked %s\n", inventory.FormatRecord(&r))
	}
	if len(res.Files) > 0 {
		return u.report(res, false)
	}
	for _, n := range res.Notes {
		u.note("%s", n)
	}
	for _, w := range res.Warnings {
		u.warn("%s", w)
	}
	if len(res.Revoked) == 0 {
		u.note("nothing changed")
	}
	return nil
}
