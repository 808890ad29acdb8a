package commands

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/cloudflare"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func cloudflareForwardingCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "forwarding",
		Usage:     "turn client certificate forwarding on or off for one hostname, keeping every other hostname's settings",
		ArgsUsage: "HOSTNAME",
		Description: `With forwarding on, Access passes the client certificate to the origin in
the Cf-Client-Cert-Der-Base64 and Cf-Client-Cert-Sha256 headers. Without
--on or --off, prints the hostname's settings.

The API takes the whole list of hostname settings at once, so this reads
the list, changes this hostname's entry and writes the whole list back:
every other hostname keeps its settings (the guide's single-entry PUT would
drop them). The API has no conditional write: two runs at once, here or
on the dashboard, can lose one's change; rerun to check ("unchanged").

The hostname must be associated with an uploaded certificate ('mtlsctl
cloudflare upload --hostname'). Token permission: "Access: Mutual TLS
Certificates Write".

EXAMPLES:
   mtlsctl cloudflare forwarding auth.example.com --on
   mtlsctl cloudflare forwarding auth.example.com --off --china-network=false

` + cloudflareHelp,
		Flags: append([]cli.Flag{
			&cli.BoolFlag{Name: "on", Usage: "forward the client certificate to the origin"},
			&cli.BoolFlag{Name: "off", Usage: "stop forwarding it"},
			&cli.StringFlag{Name: "china-network", Usage: "true or false: also serve the hostname in the China network (default: kept)"},
		}, cloudflareFlags(true)...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usageErrorf("cloudflare forwarding takes one hostname").hint("mtlsctl cloudflare forwarding auth.example.com --on")
			}
			return runCloudflareForwarding(u, c)
		},
	}
}

func runCloudflareForwarding(u *ui, c *cli.Context) error {
	host := c.Args().First()
	if chk := access.CheckHostname(host); chk.Status == access.Fail {
		return usageErrorf("%s", chk.Message).hint("%s", chk.Hint)
	}
	if c.Bool("on") && c.Bool("off") {
		return usageErrorf("--on and --off together").hint("give one of them")
	}
	ch := cloudflare.ForwardingChange{Hostname: host}
	if c.Bool("on") || c.Bool("off") {
		on := c.Bool("on")
		ch.Forwarding = &on
	}
	if c.IsSet("china-network") {
		b, err := strconv.ParseBool(c.String("china-network"))
		if err != nil {
			return usageErrorf("--china-network %q: use true or false", c.String("china-network"))
		}
		ch.ChinaNetwork = &b
	}
	account, zone := scopeFrom(c)
	cl, err := cloudflareClient(u, c, account, zone)
	if err != nil {
		return err
	}
	if ch.Forwarding == nil && ch.ChinaNetwork == nil {
		return showForwarding(u, c, cl, host)
	}
	res, err := cl.SetForwarding(c.Context, ch)
	doc := struct {
		Command string `json:"command"`
		DryRun  bool   `json:"dry_run"`
		*cloudflare.ForwardingResult
	}{"cloudflare forwarding", cl.DryRun(), res}
	return u.finishAPI(c, "cloudflare forwarding", doc, err, func() {
		status := res.Status
		if cl.DryRun() && status == "changed" {
			status = "would change"
		}
		fmt.Fprintf(u.out, "%s: %s client_certificate_forwarding %s, china_network %s\n", status, x509text.Printable(res.After.Hostname), onOff(res.After.Forwarding), onOff(res.After.ChinaNetwork))
		u.printApplied(res.Applied, cl.DryRun())
	})
}

func showForwarding(u *ui, c *cli.Context, cl *cloudflare.Client, host string) error {
	all, err := cl.Settings(c.Context)
	if err != nil {
		return err
	}
	for _, s := range all {
		if strings.EqualFold(strings.TrimSuffix(s.Hostname, "."), strings.TrimSuffix(host, ".")) {
			if c.Bool("json") {
				return u.printAPIJSON(s)
			}
			fmt.Fprintf(u.out, "%s: client_certificate_forwarding %s, china_network %s\n", x509text.Printable(s.Hostname), onOff(s.Forwarding), onOff(s.ChinaNetwork))
			return nil
		}
	}
	if c.Bool("json") {
		return u.printAPIJSON(cloudflare.HostnameSetting{Hostname: host})
	}
	fmt.Fprintf(u.out, "%s: no settings (client_certificate_forwarding off, china_network off)\n", x509text.Printable(host))
	return nil
}
