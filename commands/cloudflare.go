package commands

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

const cloudflareHelp = `CREDENTIALS AND SCOPE:
   CLOUDFLARE_API_TOKEN   the API token (Wrangler's variable), or --token-file FILE;
                          never a flag value, never printed
   CLOUDFLARE_ACCOUNT_ID  the account (or --account-id); Access certificates can
   CLOUDFLARE_ZONE_ID     be account- or zone-level (or --zone-id)
   CLOUDFLARE_BASE_URL    another API root (https://, or http:// on loopback only)
   CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL are ignored: a Global API Key is never sent.

`

func cloudflareCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "cloudflare",
		Usage: "upload the CA to Access, set hostname forwarding and push revocation data through Cloudflare's API",
		Description: `The last mile to Cloudflare, from CI: every command reads first and writes
only what differs, so a rerun with nothing changed makes no write.
--dry-run prints every write (method, path, body) and sends none.

   mtlsctl cloudflare upload --dir pki --name "Access Testing CA" --hostname auth.example.com
   mtlsctl cloudflare forwarding auth.example.com --on
   mtlsctl cloudflare list
   mtlsctl cloudflare push --dir pki --kv-namespace-id 0f2a...

` + cloudflareHelp + exitCodeHelp,
		Subcommands: []*cli.Command{
			cloudflareUploadCommand(u),
			cloudflareListCommand(u),
			cloudflareDeleteCommand(u),
			cloudflareForwardingCommand(u),
			cloudflarePushCommand(u),
		},
		Action: groupAction,
	}
}

// cloudflareFlags are every API command's flags.
func cloudflareFlags(writes bool) []cli.Flag {
	flags := []cli.Flag{
		&cli.StringFlag{Name: "token-file", Usage: "read the API token from `FILE` (- for stdin) instead of CLOUDFLARE_API_TOKEN"},
		&cli.StringFlag{Name: "account-id", Usage: "the account `ID` (default CLOUDFLARE_ACCOUNT_ID)"},
		&cli.StringFlag{Name: "zone-id", Usage: "the zone `ID` (default CLOUDFLARE_ZONE_ID)"},
		&cli.IntFlag{Name: "retries", Value: 4, Usage: "retries of a request Cloudflare answers 429 or 5xx (honouring Retry-After)"},
		jsonFlag(),
	}
	if writes {
		flags = append(flags,
			&cli.BoolFlag{Name: "dry-run", Usage: "print every write that would be made (method, path, body) and make none; reads are made"},
		)
	}
	return flags
}

// scopeFrom picks the account and zone: a flag over its variable. When
// both end up set and only one was a flag, the flag decides, so that a CI
// environment exporting both for Wrangler still works with --zone-id.
func scopeFrom(c *cli.Context) (account, zone string) {
	account, zone = c.String("account-id"), c.String("zone-id")
	accountFlag, zoneFlag := account != "", zone != ""
	if account == "" {
		account = os.Getenv("CLOUDFLARE_ACCOUNT_ID")
	}
	if zone == "" {
		zone = os.Getenv("CLOUDFLARE_ZONE_ID")
	}
	switch {
	case accountFlag && !zoneFlag:
		zone = ""
	case zoneFlag && !accountFlag:
		account = ""
	}
	return strings.TrimSpace(account), strings.TrimSpace(zone)
}

// cloudflareClient builds the API client from flags and the environment.
// The token is read here and goes only into the client.
func cloudflareClient(u *ui, c *cli.Context, account, zone string) (*cloudflare.Client, error) {
	token, err := apiToken(u, c)
	if err != nil {
		return nil, err
	}
	retries := 4
	if c.IsSet("retries") {
		retries = c.Int("retries")
		if retries < 0 || retries > 20 {
			return nil, usageErrorf("--retries %d: use 0 to 20", retries)
		}
	}
	if retries == 0 {
		retries = -1 // Config's 0 means the default
	}
	cl, err := cloudflare.New(cloudflare.Config{
		Token: token, AccountID: account, ZoneID: zone, BaseURL: os.Getenv("CLOUDFLARE_BASE_URL"),
		DryRun: c.Bool("dry-run"), Verbose: c.Bool("verbose"), Log: u.err, Retries: retries,
	})
	if err != nil {
		return nil, err
	}
	return cl, nil
}

func apiToken(u *ui, c *cli.Context) (string, error) {
	if f := c.String("token-file"); f != "" {
		data, err := input.ReadInputAs(f, c.App.Reader, input.InputToken)
		if err != nil {
			return "", err
		}
		if f != "-" {
			if info, err := os.Stat(f); err == nil && info.Mode().Perm()&0o077 != 0 {
				u.warn("%s is readable by others (mode %04o): chmod 600 %s", f, info.Mode().Perm(), f)
			}
		}
		token := strings.TrimSpace(string(data))
		if token == "" {
			return "", &pkix.Error{File: f, Msg: "the token file is empty", Hint: "put the API token alone in the file"}
		}
		if strings.ContainsAny(token, " \t\r\n") {
			return "", &pkix.Error{File: f, Msg: "the token file holds more than one word", Hint: "put the API token alone in the file"}
		}
		return token, nil
	}
	token := strings.TrimSpace(os.Getenv("CLOUDFLARE_API_TOKEN"))
	if token == "" {
		return "", usageErrorf("no API token: set CLOUDFLARE_API_TOKEN or pass --token-file FILE").
			hint("create one at dash.cloudflare.com → My Profile → API Tokens with the permission the command's --help names (e.g. 'mtlsctl cloudflare upload --help')")
	}
	return token, nil
}

// apiFailure maps a failed API plan to its exit code: 3 when some writes
// were applied, 2 when none were.
func apiFailure(err error) error {
	var ae *cloudflare.ApplyError
	if errors.As(err, &ae) && ae.Partial() {
		return partlyDone{err}
	}
	return err
}

// finishAPI prints an API command's outcome: its document (--json) or
// text on success; on failure with --json, a document saying what was
// and was not applied instead, so a script never reads a failure as a
// result. It returns the error with its exit code.
func (u *ui) finishAPI(c *cli.Context, command string, doc any, err error, text func()) error {
	if !c.Bool("json") {
		if err == nil {
			text()
		}
		return apiFailure(err)
	}
	if err != nil {
		f := apiFailureDoc{Command: command, Status: "failed", Error: err.Error(), Applied: []string{}, NotApplied: []string{}}
		var ae *cloudflare.ApplyError
		if errors.As(err, &ae) {
			f.Applied = append(f.Applied, ae.Applied...)
			f.NotApplied = append(f.NotApplied, ae.NotApplied...)
			f.Uncertain = ae.Uncertain
			if ae.Partial() {
				f.Status = "partly applied"
			}
		}
		var pd partlyDone
		if errors.As(err, &pd) {
			f.Status = "partly applied"
		}
		doc = f
	}
	if jerr := u.printAPIJSON(doc); jerr != nil && err == nil {
		return jerr
	}
	return apiFailure(err)
}

type apiFailureDoc struct {
	Command    string   `json:"command"`
	Status     string   `json:"status"` // failed (nothing applied), partly applied
	Error      string   `json:"error"`
	Applied    []string `json:"applied"`
	NotApplied []string `json:"not_applied"`
	Uncertain  string   `json:"uncertain,omitempty"` // a write that may or may not have been applied
}

// printApplied lists the writes made (or, under --dry-run, that would be).
func (u *ui) printApplied(applied []string, dryRun bool) {
	verb := "applied"
	if dryRun {
		verb = "would apply (dry run: nothing was sent)"
	}
	if len(applied) == 0 {
		return
	}
	fmt.Fprintf(u.out, "%s:\n", verb)
	for _, a := range applied {
		fmt.Fprintf(u.out, "  %s\n", x509text.Printable(a))
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func envOr(name string) string { return strings.TrimSpace(os.Getenv(name)) }
