package commands

import (
	"fmt"
	"math/big"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func crlCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "build and read certificate revocation lists",
		Subcommands: []*cli.Command{
			crlBuildCommand(u),
			crlShowCommand(u),
			crlExportCommand(u),
		},
		Action: groupAction,
	}
}

// listLimit is how many serials text output lists before summarising;
// --json and "crl show" always list every one.
const listLimit = 50

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
func crlSummary(crl *crl.CRL, all bool) crlReport {
	limit := crl.Count
	if !all {
		limit = min(limit, listLimit)
	}
	r := crlReport{Number: crl.Number.String(), ThisUpdate: crl.ThisUpdate, NextUpdate: crl.NextUpdate,
		SigAlg: crl.SigAlg.String(), Count: crl.Count, Serials: make([]string, 0, limit)}
	crl.EachSerial(limit, func(n *big.Int) { r.Serials = append(r.Serials, x509text.SerialHex(n)) })
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
		fmt.Fprintln(u.out, u.hints.complete(fmt.Sprintf("    … and %d more (mtlsctl crl show, or --json, lists them all)", more)))
	}
	return nil
}
