package commands

import (
	"fmt"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func cloudflareUploadCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "upload",
		Usage:     "upload the CA to Access (idempotent): create it, or update its name and hostnames",
		ArgsUsage: "[FILE|-]",
		Description: `Uploads the directory's CA bundle (DIR/ca-chain.pem when there is one, else
DIR/ca.pem) or FILE to Access as an mTLS root certificate. Every 'ca
validate' rule runs first: a bundle Access would refuse is reported exactly
as 'ca validate' reports it, exit 1, and nothing is sent.

Idempotent: a certificate in the account with the MD5 fingerprint of one of
the bundle's certificates is this CA. It is updated when --name or
--hostname differ, else left alone ("unchanged", no write). --hostname
gives the whole list of associated hostnames; without it an uploaded CA
keeps its hostnames.

Rotation: --replace OLD (ID or name) uploads the new CA with OLD's
hostnames too, while OLD keeps them: Access trusts both CAs on those
hostnames, so clients with certificates from either get in during the
overlap. When every client has a certificate from the new CA:
'mtlsctl cloudflare delete OLD --force'. If Access refuses one hostname
on two certificates, the upload stops before changing anything and says so.

--no-create refuses to add a CA the account does not hold (exit 2, nothing
sent): a scheduled CI job keeps the uploaded CA's hostnames right, and a
CA file changed by mistake never becomes a second trusted CA.

Token permission: "Access: Mutual TLS Certificates Write".

EXAMPLES:
   mtlsctl cloudflare upload --dir pki --name "Access Testing CA" --hostname auth.example.com
   mtlsctl cloudflare upload --dir pki --dry-run
   mtlsctl cloudflare upload --dir pki --no-create --hostname auth.example.com   # in a scheduled job
   mtlsctl cloudflare upload new/ca.pem --replace "Access Testing CA" --name "Access CA 2027"

` + cloudflareHelp,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "name", Usage: "the certificate's `NAME` in Access (default: kept, or the CA's CN)"},
			&cli.StringSliceFlag{Name: "hostname", Usage: "an associated `HOSTNAME` (repeatable; the whole list)"},
			&cli.StringFlag{Name: "replace", Usage: "rotate out the certificate with this `ID` or name: the new CA gets its hostnames too"},
			lintStrictFlag(),
			&cli.BoolFlag{Name: "no-create", Usage: "only update a CA Access already holds; refuse to add one (for CI jobs that must not add trust)"},
		}, cloudflareFlags(true)...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("cloudflare upload takes one file").hint("put a whole chain in one file, intermediate first")
			}
			return runCloudflareUpload(u, c)
		},
	}
}

type uploadOutput struct {
	Command string `json:"command"`
	File    string `json:"file"`
	DryRun  bool   `json:"dry_run"`
	*cloudflare.UploadResult
	Validation *access.UploadReport `json:"validation,omitempty"`
}

func runCloudflareUpload(u *ui, c *cli.Context) error {
	path := c.Args().First()
	if path == "" {
		d, err := openDir(c)
		if err != nil {
			return err
		}
		path = d.UploadBundle()
	}
	if err := checkHostnameFlags(c); err != nil {
		return err
	}
	label, rep, err := validateUploadFile(c, path)
	if err != nil {
		return err
	}
	if !rep.Accepted {
		if c.Bool("json") {
			u.printAPIJSON(uploadOutput{Command: "cloudflare upload", File: label, DryRun: c.Bool("dry-run"), Validation: rep,
				UploadResult: &cloudflare.UploadResult{Status: "refused", Applied: []string{}, Notes: []string{}}})
		} else {
			// The checklist, exactly as 'ca validate' prints it, on stderr:
			// stdout stays for what was uploaded.
			(&ui{out: u.err, err: u.err, outColor: u.errColor, errColor: u.errColor}).printChecklist(label, rep)
		}
		return &problemsFound{summary: fmt.Sprintf("%s: Access would refuse this upload (%d problem%s): nothing was sent", label, rep.Problems, plural(rep.Problems))}
	}
	account, zone := scopeFrom(c)
	cl, err := cloudflareClient(u, c, account, zone)
	if err != nil {
		return err
	}
	var hosts []string
	if c.IsSet("hostname") {
		hosts = []string{}
		for _, ch := range rep.Hostnames {
			hosts = append(hosts, access.HostnameOf(ch))
		}
	}
	res, err := cl.Upload(c.Context, cloudflare.UploadRequest{Chain: rep.Chain(), Name: c.String("name"), Hostnames: hosts, Replace: c.String("replace"), NoCreate: c.Bool("no-create")})
	out := uploadOutput{Command: "cloudflare upload", File: label, DryRun: cl.DryRun(), UploadResult: res}
	return u.finishAPI(c, "cloudflare upload", out, err, func() { u.printUpload(out) })
}

func (u *ui) printUpload(o uploadOutput) {
	r := o.UploadResult
	for _, n := range r.Notes {
		u.note("%s", n)
	}
	status := r.Status
	if o.DryRun && status != "unchanged" {
		status = "would be " + status
	}
	ct := r.Certificate
	id := x509text.Printable(ct.ID)
	if id == "" {
		id = "(assigned by Cloudflare)"
	}
	// Every string here came from the API: escaped once (no %q over it).
	fmt.Fprintf(u.out, "%s: Access certificate %s \"%s\"\n", status, id, x509text.Printable(ct.Name))
	fmt.Fprintf(u.out, "  fingerprint  MD5 %s\n", colonHex(cloudflare.NormalizeFingerprint(ct.Fingerprint)))
	if !ct.ExpiresOn.IsZero() {
		fmt.Fprintf(u.out, "  expires      %s (%d days)\n", ct.ExpiresOn.UTC().Format("2006-01-02"), int(time.Until(ct.ExpiresOn).Hours()/24))
	}
	fmt.Fprintf(u.out, "  hostnames    %s\n", orNone(ct.Hostnames))
	if r.Replacing != nil {
		fmt.Fprintf(u.out, "  replacing    %s \"%s\" (keeps %s until deleted)\n", x509text.Printable(r.Replacing.ID), x509text.Printable(r.Replacing.Name), orNone(r.Replacing.Hostnames))
	}
	u.printApplied(r.Applied, o.DryRun)
}

func orNone(h []string) string {
	if len(h) == 0 {
		return "none"
	}
	return x509text.Printable(strings.Join(h, ", "))
}

// colonHex writes hex digits in colon-separated pairs, as the API does.
func colonHex(h string) string {
	var parts []string
	for i := 0; i+1 < len(h); i += 2 {
		parts = append(parts, h[i:i+2])
	}
	return strings.Join(parts, ":")
}
