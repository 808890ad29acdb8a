package commands

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientRenewCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "renew",
		Usage:     "reissue client certificates that are due: named, or every one expiring soon",
		ArgsUsage: "[NAME...]",
		Description: `Reissues each named valid client certificate (file base name or CN), or
with --expiring every valid one that expires within the duration (--cn
GLOB narrows them), with the same subject, profile and issuer, under the
same name. The subject is kept exactly: every attribute, in the same
RDNs; a --request asking for another subject is refused, naming the
difference, unless --subject-from-request. The old files are kept as
.bak and the old record becomes superseded (not revoked: it stays
valid until it expires, for a device that has not yet picked up the new
one); --revoke-old revokes them
(reason superseded) and rebuilds the CRLs; the renewal records that
intent, so a crash or a failure before the revocation is finished by the
next renew and named by 'check' until then. With --expiring, a renewal
that would itself be due at once (a profile shorter than the window) is
refused, naming the setting to change.

A new key by default, of the same type and size; --reuse-key re-signs the
current key. A certificate whose key is on the device (signed with
'client sign') is always renewed with that key, from its request in the
directory (NAME.csr), or from a new request from the device with
--request FILE.

Renewals run on all cores with the guarantees of a batch issue: each one
is written whole and recorded, or not at all. Exit 0 when everything due
was renewed (or nothing was due: "nothing due"), 3 when some could not be
(each named with the reason; the others are renewed and recorded).

EXAMPLES:
   mtlsctl client renew --expiring 30d                 # what 'check' warns about
   mtlsctl client renew device-7 --reuse-key
   mtlsctl client renew device-8 --request device-8-new.csr
   mtlsctl client renew --expiring 30d --cn 'sensor-*' --revoke-old`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "expiring", Usage: "renew every valid client certificate expiring within `DURATION` (30d, 720h)"},
			&cli.StringFlag{Name: "cn", Usage: "with --expiring: only CNs matching `GLOB` (sensor-*)"},
			&cli.BoolFlag{Name: "reuse-key", Usage: "re-sign the current key instead of making a new one"},
			&cli.StringFlag{Name: "request", Usage: "a new PKCS#10 request `FILE` from the device (one certificate); its subject must be the certificate's"},
			&cli.BoolFlag{Name: "subject-from-request", Usage: "with --request: issue the request's subject (its CN must be the recorded one) instead of the recorded subject"},
			&cli.BoolFlag{Name: "revoke-old", Usage: "revoke the renewed certificates (reason superseded) and rebuild the CRLs"},
			nextUpdateFlag("--revoke-old"),
			configFlag(),
			jsonFlag(),
		}, lifetimeFlags()...),
		Action: func(c *cli.Context) error {
			return runClientRenew(u, c)
		},
	}
}

func runClientRenew(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	req, err := renewRequest(c, d)
	if err != nil {
		return err
	}
	bar := newProgress(u, 0, !c.Bool("json"))
	req.Progress = bar.update
	out, err := d.RenewAndRevokeOld(c.Context, req)
	bar.finish()
	if err != nil {
		return err
	}
	res := newResult("client renew")
	if rv := out.Finished; rv != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("revoked %d old certificate%s an earlier renewal with --revoke-old left pending", len(rv.Revoked), plural(len(rv.Revoked))))
		res.Revoked = append(res.Revoked, rv.Revoked...)
		res.addWritten(rv.Written, nil)
	}
	if len(out.Due) == 0 {
		return reportNothingDue(u, c, res, req)
	}
	if rv := out.Revoked; rv != nil {
		res.Revoked = append(res.Revoked, rv.Revoked...)
		res.addWritten(rv.Written, nil)
	}
	if out.RevokeErr != nil {
		return reportNotRevoked(u, c, d, res, out)
	}
	// Some renewed and recorded, some not: partly done, exit 3.
	return reportIssued(u, c, d, res, out.IssueResult, len(out.Due))
}

// renewRequest reads what to renew, and how, from the flags.
func renewRequest(c *cli.Context, d *pkidir.Dir) (*pkidir.RenewRequest, error) {
	names := c.Args().Slice()
	for _, n := range names {
		if strings.HasPrefix(n, "-") {
			return nil, usageErrorf("flag %s came after an argument", n).hint("put flags before the names: see 'mtlsctl client renew --help'")
		}
	}
	req := &pkidir.RenewRequest{Names: names, ReuseKey: c.Bool("reuse-key"), CNGlob: c.String("cn"), Now: time.Now(), SubjectFromRequest: c.Bool("subject-from-request"), RevokeOld: c.Bool("revoke-old")}
	switch {
	case len(names) > 0 && c.IsSet("expiring"):
		return nil, usageErrorf("names and --expiring both pick what to renew").hint("give one of them")
	case len(names) == 0 && !c.IsSet("expiring"):
		return nil, usageErrorf("renew what? give NAMEs or --expiring DURATION").hint("mtlsctl client renew --expiring 30d")
	case c.IsSet("cn") && !c.IsSet("expiring"):
		return nil, usageErrorf("--cn narrows --expiring").hint("mtlsctl client renew --expiring 30d --cn 'sensor-*'")
	case c.Bool("subject-from-request") && !c.IsSet("request"):
		return nil, usageErrorf("--subject-from-request takes the subject of --request, and --request is not given").hint("add --request FILE, or leave --subject-from-request out")
	case c.IsSet("next-update") && !c.Bool("revoke-old"):
		return nil, usageErrorf("--next-update is how long the CRLs --revoke-old rebuilds are valid, and --revoke-old is not given").hint("add --revoke-old, or leave --next-update out")
	}
	var err error
	if req.NextUpdate, err = parseDuration("next-update", c.String("next-update")); err != nil {
		return nil, err
	}
	if req.Lifetime, err = parseLifetime(c); err != nil {
		return nil, err
	}
	if c.IsSet("expiring") {
		if req.Expiring, err = parseDuration("expiring", c.String("expiring")); err != nil {
			return nil, err
		}
	}
	if f := c.String("request"); f != "" {
		data, err := input.ReadInputAs(f, c.App.Reader, input.InputRequest)
		if err != nil {
			return nil, err
		}
		if req.Request, err = ca.ParseDeviceRequest(stdinLabel(f), data); err != nil {
			return nil, err
		}
	}
	if req.Config, err = loadConfig(c, d); err != nil {
		return nil, err
	}
	return req, nil
}

func reportNothingDue(u *ui, c *cli.Context, res *result, req *pkidir.RenewRequest) error {
	if c.Bool("json") {
		failed := []pkidir.Failure{}
		res.Failed = &failed
		return u.report(res, true)
	}
	for _, n := range res.Notes {
		u.note("%s", n)
	}
	if req.CNGlob != "" {
		fmt.Fprintf(u.out, "nothing due: no valid client certificate whose CN matches %q expires within %s\n", req.CNGlob, cfsslconf.FormatDuration(req.Expiring))
		return nil
	}
	fmt.Fprintf(u.out, "nothing due: no valid client certificate expires within %s\n", cfsslconf.FormatDuration(req.Expiring))
	return nil
}

// reportNotRevoked reports renewals whose old certificates could not be
// revoked, or not before a signal: the renewals are recorded and so is the
// intent to revoke: stdout (and --json) name the old serials, and the next
// renewal or 'check' takes it from there.
func reportNotRevoked(u *ui, c *cli.Context, d *pkidir.Dir, res *result, out *pkidir.RenewOutcome) error {
	for _, old := range out.Superseded {
		old.Status = inventory.StatusSuperseded // as the renewal recorded it
		res.NotRevoked = append(res.NotRevoked, old)
	}
	if rerr := reportIssued(u, c, d, res, out.IssueResult, len(out.Due)); rerr != nil && !errors.As(rerr, new(partlyDone)) {
		return rerr
	}
	if !c.Bool("json") {
		for _, old := range out.Superseded {
			fmt.Fprintf(u.out, "not revoked: serial %s (CN %q), the certificate this renewal replaced\n", old.Serial, old.CN)
		}
	}
	// Commands that work as pasted (a bare 'client renew' renews nothing):
	// one revoke per old serial, each quoted for hintflags to complete.
	var revokes []string
	for _, old := range out.Superseded {
		revokes = append(revokes, "'mtlsctl client revoke --serial "+old.Serial+" --reason superseded --crl'")
	}
	hint := "the intent is recorded and 'mtlsctl check' names them until they are revoked; revoke them with " + strings.Join(revokes, ", ") + " (a later renewal run also finishes it)"
	if c.Context.Err() != nil {
		return &pkix.Error{Msg: fmt.Sprintf("interrupted after renewing %d certificate%s; the old ones are not revoked yet", len(out.Issued), plural(len(out.Issued))), Hint: hint}
	}
	return partlyDone{&pkix.Error{Msg: fmt.Sprintf("renewed %d certificate%s, but revoking the old ones failed (none is revoked): %v", len(out.Issued), plural(len(out.Issued)), out.RevokeErr), Hint: hint}}
}
