package commands

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/fatih/color"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func caValidateCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "check a CA (or chain) against Cloudflare Access's upload rules",
		ArgsUsage: "[CA-FILE|-]",
		Description: `Checks what you are about to paste into Access's "Certificate content" field,
certificate by certificate: PEM with only CERTIFICATE blocks, Basic
Constraints CA:TRUE, one of the signature algorithms Access accepts, a chain
that runs intermediate first up to a self-signed root, validity (with
Access's 30- and 14-day alert thresholds), key usage, RFC 5280 lints, and
the associated hostnames given with --hostname.

Exit 0 when Access would accept it, 1 when a rule fails, 2 when the input
cannot be read at all. Lint findings are warnings unless --strict.

EXAMPLES:
   mtlsctl ca validate                                   # DIR/ca.pem
   mtlsctl ca validate ca-chain.pem --hostname auth.example.com
   cat ca.pem | mtlsctl ca validate -
   mtlsctl ca validate --payload "Access Testing CA" --hostname auth.example.com \
     | curl -X POST "https://api.cloudflare.com/client/v4/accounts/$ACCOUNT/access/certificates" \
            -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data @-
   mtlsctl ca validate bundle.pem --fix-order --out ca-chain.pem`,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringSliceFlag{Name: "hostname", Usage: "an associated hostname to check (repeatable)"},
			lintStrictFlag(),
			&cli.StringFlag{Name: "payload", Usage: "after a passing check, print Access's API request body with this `NAME`"},
			&cli.BoolFlag{Name: "fix-order", Usage: "when the bundle is only out of order, write it in the right order to --out"},
			&cli.StringFlag{Name: "out", Usage: "output `FILE` for --fix-order"},
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("ca validate takes one file").hint("put a whole chain in one file, intermediate first")
			}
			return runCAValidate(u, c)
		},
	}
}

func runCAValidate(u *ui, c *cli.Context) error {
	path := c.Args().First()
	if path == "" {
		d, err := openDir(c)
		if err != nil {
			return err
		}
		path = d.CA(dirview.RootName).Cert
	}
	if c.Bool("fix-order") {
		if err := refuseOverwritingInputs([]atomicfile.File{{Path: c.String("out")}}, true, path); err != nil {
			return err
		}
	}
	if c.Bool("fix-order") && c.String("out") == "" {
		return usageErrorf("--fix-order needs --out FILE").hint("mtlsctl ca validate bundle.pem --fix-order --out ca-chain.pem")
	}
	if c.String("payload") != "" && c.Bool("json") {
		return usageErrorf("--payload and --json both want stdout").hint("use one of them")
	}
	label, rep, err := validateUploadFile(c, path)
	if err != nil {
		return err
	}

	out := u
	if c.String("payload") != "" {
		// stdout carries the payload alone; the checklist goes to stderr.
		out = &ui{out: u.err, err: u.err, outColor: u.errColor, errColor: u.errColor}
	}
	if c.Bool("json") {
		if err := u.printJSON(struct {
			File string `json:"file"`
			*access.UploadReport
		}{label, rep}); err != nil {
			return err
		}
	} else {
		out.printChecklist(label, rep)
	}

	if c.Bool("fix-order") && rep.FixedOrder != nil {
		w, err := atomicfile.WriteFiles([]atomicfile.File{{Path: c.String("out"), Data: access.OrderedPEM(rep.FixedOrder), Mode: atomicfile.ModePublic, Kind: "CA chain"}}, false)
		if err != nil {
			return err
		}
		fmt.Fprintf(u.err, "mtlsctl: wrote %s in the right order; validate it again: mtlsctl ca validate %s\n", w[0].Path, x509text.ShellQuote(w[0].Path))
	}
	if !rep.Accepted {
		return &problemsFound{summary: fmt.Sprintf("%s: Access would refuse this upload (%d problem%s)", label, rep.Problems, plural(rep.Problems))}
	}
	if name := c.String("payload"); name != "" {
		var hosts []string
		for _, h := range rep.Hostnames {
			hosts = append(hosts, access.HostnameOf(h))
		}
		if hosts == nil {
			hosts = []string{}
		}
		body, _ := json.Marshal(struct {
			Name                string   `json:"name"`
			Certificate         string   `json:"certificate"`
			AssociatedHostnames []string `json:"associated_hostnames"`
		}{name, string(access.OrderedPEM(rep.Chain())), hosts})
		fmt.Fprintln(u.out, string(body))
	}
	return nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

var marks = map[access.Status]struct {
	sign string
	attr color.Attribute
}{access.Pass: {"✓", color.FgGreen}, access.Warn: {"!", color.FgYellow}, access.Fail: {"✗", color.FgRed}}

// printCheck prints one rule's line; width is the longest rule name of
// the report, so the messages line up (critical-extensions is 19 wide).
func (u *ui) printCheck(indent string, width int, ch access.Check) {
	m := marks[ch.Status]
	// Messages quote names, hostnames and file names from the input.
	fmt.Fprintf(u.out, "%s%s %-*s %s\n", indent, paint(u.outColor, m.attr, m.sign), width, ch.Rule, x509text.Printable(ch.Message))
	if ch.Hint != "" && ch.Status != access.Pass {
		fmt.Fprintf(u.out, "%s  %-*s → %s\n", indent, width, "", x509text.Printable(ch.Hint))
	}
}

// ruleWidth is the width of the longest rule name in the report.
func ruleWidth(rep *access.UploadReport) int {
	width := 0
	all := slices.Concat(rep.Bundle, rep.Hostnames)
	for _, cc := range rep.Certificates {
		all = append(all, cc.Checks...)
	}
	for _, ch := range all {
		width = max(width, len(ch.Rule))
	}
	return width
}

func (u *ui) printChecklist(label string, rep *access.UploadReport) {
	width := ruleWidth(rep)
	fmt.Fprintf(u.out, "%s: %d certificate%s\n", x509text.Printable(label), len(rep.Certificates), plural(len(rep.Certificates)))
	for _, ch := range rep.Bundle {
		u.printCheck("  ", width, ch)
	}
	for _, cc := range rep.Certificates {
		fmt.Fprintf(u.out, "  [%d] %s\n", cc.Index, cc.Subject)
		for _, ch := range cc.Checks {
			u.printCheck("      ", width, ch)
		}
	}
	if len(rep.Hostnames) > 0 {
		fmt.Fprintf(u.out, "  associated hostnames\n")
		for _, ch := range rep.Hostnames {
			u.printCheck("      ", width, ch)
		}
	}
	if rep.Accepted {
		fmt.Fprintf(u.out, "%s Access would accept this certificate%s (%d warning%s)\n", paint(u.outColor, color.FgGreen, "✓"),
			map[bool]string{true: " chain", false: ""}[len(rep.Certificates) > 1], rep.Warnings, plural(rep.Warnings))
	} else {
		fmt.Fprintf(u.out, "%s Access would refuse this upload: %d problem%s, %d warning%s\n", paint(u.outColor, color.FgRed, "✗"),
			rep.Problems, plural(rep.Problems), rep.Warnings, plural(rep.Warnings))
	}
}
