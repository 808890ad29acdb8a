package commands

import (
	"bufio"
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func clientIssueCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "issue",
		Usage: "issue a client certificate: client.pem, client-key.pem, client.csr",
		Description: `Issues a client certificate signed by the CA in DIR with the "client" profile
of ca-config.json, as "cfssl gencert -profile=client ... | cfssljson -bare
client" does, but: an unknown profile is an error (cfssl silently falls back
to "default"), empty "hosts" entries are dropped (cfssl issues an invalid
empty subjectAltName), the CA key must match the CA certificate, and
existing files are never overwritten.

The request is --csr FILE, else DIR/client-csr.json, else the built-in
request (the guide's) with the CN given by --cn. --cn also overrides the
CN of a request file. Files are named from the CN whenever --cn is given
(device-7.pem), and client.pem (the guide's name) when the CN comes from
the request file; --name overrides both. A name the directory reserves
(ca, serve-ca, an intermediate's) or another certificate's file is
refused, and --force never replaces a certificate with another CN.

A batch: several --cn, or --cn-file with one CN per line. Each certificate
is named from its CN (letters, digits, '.', '_', '-'; anything else '-').
The whole batch is checked (names, collisions with existing files, CA,
configuration) before any key is made, then issued on all cores; if one
fails, the others are still written whole and recorded, and the summary and
exit code (3) name the CNs that were not issued. A progress bar shows on a
terminal; a summary line is always printed to stderr.

The issuer is --issuer NAME (ca: the root), --ca/--ca-key, or by
default the directory's one valid intermediate once it has one (a note
says so; with several, name one), else the root. --expiry or --not-after
sets a lifetime within the profile's and the issuing CA's.

Every certificate is recorded in DIR/inventory.tsv, under a lock that lets
parallel jobs issue into one directory.

EXAMPLES:
   mtlsctl client issue                                  # the guide's client-csr.json
   mtlsctl client issue --dir pki --cn "James Royal"     # built-in request
   mtlsctl client issue --cn device-7 --name device-7 --key-type ecdsa-256
   mtlsctl client issue --issuer intermediate --cn device-1 --name device-1
   mtlsctl client issue --cn-file devices.txt --key-type ecdsa-256     # a fleet, on all cores`,
		Flags: append([]cli.Flag{
			dirFlag(),
			csrFlag("DIR/client-csr.json"),
			&cli.StringSliceFlag{Name: "cn", Usage: "the certificate's common `NAME` (overrides the request's CN); repeat for a batch"},
			&cli.StringFlag{Name: "cn-file", Usage: "issue one certificate per line of `FILE` (# comments); - for stdin"},
			configFlag(),
			signingCAFlag(),
			signingCAKeyFlag(),
			issuerFlag(),
			clientProfileFlag(),
			&cli.StringFlag{Name: "name", Value: "client", Usage: "output base `NAME`: NAME.pem, NAME-key.pem, NAME.csr (default: from --cn, else client)"},
			keyTypeFlag("the request's"),
			&cli.BoolFlag{Name: "p12", Usage: "also write BASE.p12 (key + certificate + chain); see 'client export'"},
			forceFlag(),
			allowDNSpecialsFlag(),
			jsonFlag(),
		}, append(append(lifetimeFlags(), p12Flags()...), signerClientFlags(false)...)...),
		Action: func(c *cli.Context) error {
			return runClientIssue(u, c)
		},
	}
}

func runClientIssue(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "csr", "config", "ca", "ca-key", "cn-file"); err != nil {
		return err
	}
	res := newResult("client issue")
	cns, err := collectCNs(c)
	if err != nil {
		return err
	}
	if len(cns) > 1 && c.IsSet("name") {
		return usageErrorf("--name names one certificate, but %d CNs were given", len(cns)).hint("leave --name out: each certificate is named from its CN")
	}

	// Inputs first: requests, configuration and profile, CA and key.
	cn := ""
	if len(cns) > 0 {
		cn = cns[0]
	}
	template, err := loadRequestOrBuiltin(c, d.File(dirview.ClientRequest), cfsslconf.ClientRequest, cn)
	if err != nil {
		return err
	}
	if err := applyKeyType(c, template); err != nil {
		return err
	}
	res.Notes = append(res.Notes, template.Notes...)
	jobs, err := planJobs(c, template, cns)
	if err != nil {
		return err
	}
	if c.String("signer") != "" {
		return issueViaSigner(u, c, d, res, jobs)
	}
	req, err := clientBatch(c, d, res, jobs)
	if err != nil {
		return err
	}
	if c.Bool("p12") {
		password, err := p12Password(c)
		if err != nil {
			return err
		}
		if w := p12PasswordWarning(c); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
		req.P12 = &pkidir.P12Options{Password: password, Legacy: c.Bool("legacy")}
	}
	return issueBatch(u, c, d, res, req)
}

// clientBatch is a batch of client certificates under --profile, signed by
// the CA of --ca/--issuer: client issue and client sign alike. A profile
// without clientAuth is warned about.
func clientBatch(c *cli.Context, d *pkidir.Dir, res *result, jobs []pkidir.Job) (*pkidir.IssueRequest, error) {
	profile := c.String("profile")
	cfg, err := loadConfig(c, d)
	if err != nil {
		return nil, err
	}
	if _, err := cfg.Profile(profile); err != nil {
		return nil, err
	}
	certKind := "client certificate"
	if !cfg.ProfileHasUsage(profile, "client auth") {
		certKind = "certificate (profile " + profile + ")"
		res.Warnings = append(res.Warnings, fmt.Sprintf("profile %q has no \"client auth\": Access will not accept this certificate from a client", profile))
	}
	life, err := parseLifetime(c)
	if err != nil {
		return nil, err
	}
	signer, err := loadSigner(c, d, cfg, res)
	if err != nil {
		return nil, err
	}
	return &pkidir.IssueRequest{Kind: inventory.KindClient, Jobs: jobs, Signer: signer, Profile: profile, CertKind: certKind, Force: c.Bool("force"),
		Lifetime: life, AllowDNSpecials: c.Bool(allowDNSpecialsFlagName)}, nil
}

// issueBatch checks a batch's outputs, issues it with a progress bar and
// reports it: client issue and client sign alike.
func issueBatch(u *ui, c *cli.Context, d *pkidir.Dir, res *result, req *pkidir.IssueRequest) error {
	// Names the directory reserves first: "ca" is refused as reserved,
	// not only because ca.pem happens to be an input.
	if err := d.CheckOutputs(req); err != nil {
		return err
	}
	if err := refuseInputs(c, d, req.Jobs); err != nil {
		return err
	}
	bar := newProgress(u, len(req.Jobs), !c.Bool("json"))
	req.Progress = bar.update
	out, err := d.Issue(c.Context, req)
	bar.finish()
	if err != nil {
		return err
	}
	return reportIssued(u, c, d, res, out, len(req.Jobs))
}

// reportIssued prints an issue's result and turns what was not done into
// the exit code: 3 when some were issued and others not, 128+N after a
// signal, 2 when nothing was.
func reportIssued(u *ui, c *cli.Context, d *pkidir.Dir, res *result, out *pkidir.IssueResult, total int) error {
	res.Notes = append(append(res.Notes, out.Repaired...), out.Notes...)
	for _, w := range out.Warnings {
		if !slices.Contains(res.Warnings, w) {
			res.Warnings = append(res.Warnings, w)
		}
	}
	for _, is := range out.Issued {
		sum := x509text.Summarize(is.Cert)
		if total == 1 {
			res.Cert = &sum
		}
		res.Issued = append(res.Issued, sum)
		res.addWritten(is.Files, map[string]*x509text.CertSummary{is.Files[0].Path: &sum})
	}
	if len(out.Issued) > 0 && res.Recorded == "" {
		res.Recorded = d.Inventory()
	}
	notStarted := 0
	failed := []pkidir.Failure{} // present in --json even when empty
	res.Failed = &failed
	for _, f := range out.Failed {
		failed = append(failed, f)
		if f.NotStarted() {
			notStarted++
		}
	}
	if err := u.report(res, c.Bool("json")); err != nil {
		return err
	}
	verb := "issued"
	if res.Command == "client renew" {
		verb = "renewed"
	}
	if total > 1 || len(out.Failed) > 0 {
		fmt.Fprintf(u.err, "mtlsctl: %s %d of %d certificate%s\n", verb, len(out.Issued), total, plural(total))
	}
	if len(out.Failed) == 0 {
		return nil
	}
	var names []string
	for _, f := range out.Failed {
		if !f.NotStarted() {
			names = append(names, fmt.Sprintf("%q (%s)", f.CN, f.Error))
		}
	}
	var err error
	switch {
	case notStarted > 0:
		err = &pkix.Error{Msg: fmt.Sprintf("interrupted: %d certificate%s not started", notStarted, plural(notStarted)),
			Hint: "those issued were written whole and recorded; run the batch again with only the CNs not issued (--json lists them)"}
	case len(out.Issued) == 0 && len(out.Failed) == 1 && !out.Failed[0].Hint().IsZero():
		h := out.Failed[0].Hint()
		err = &pkix.Error{Msg: fmt.Sprintf("no certificate was %s: %s", verb, strings.Join(names, "; ")), Hint: h.Format + " (nothing was written)", HintArgs: h.Args}
	case len(out.Issued) == 0:
		err = &pkix.Error{Msg: fmt.Sprintf("no certificate was %s: %s", verb, strings.Join(names, "; ")), Hint: "nothing was written"}
	default:
		err = &pkix.Error{Msg: fmt.Sprintf("%d certificate%s not %s: %s", len(out.Failed), plural(len(out.Failed)), verb, strings.Join(names, "; ")),
			Hint: "the others were written and recorded; run again with only the failed CNs"}
	}
	if len(out.Issued) > 0 {
		return partlyDone{err}
	}
	return err
}

// collectCNs gathers --cn values and --cn-file lines, checked one by one.
func collectCNs(c *cli.Context) ([]string, error) {
	var cns []string
	for _, cn := range c.StringSlice("cn") {
		if err := checkCNFlag(cn); err != nil {
			return nil, err
		}
		cns = append(cns, cn)
	}
	if path := c.String("cn-file"); path != "" {
		data, err := input.ReadInputAs(path, c.App.Reader, input.InputCNList)
		if err != nil {
			return nil, err
		}
		label := path
		if path == "-" {
			label = "stdin"
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		line := 0
		for sc.Scan() {
			line++
			text := sc.Text()
			if i := strings.Index(text, "#"); i >= 0 {
				text = text[:i]
			}
			text = strings.TrimSpace(strings.TrimPrefix(text, "\ufeff"))
			if text == "" {
				continue
			}
			if err := cfsslconf.CheckCN(text); err != nil {
				return nil, &pkix.Error{File: label, Line: line, Msg: err.Msg, Hint: err.Hint, HintArgs: err.HintArgs}
			}
			cns = append(cns, text)
		}
		if len(cns) == 0 {
			return nil, &pkix.Error{File: label, Msg: "lists no CNs", Hint: "one common name per line; # starts a comment"}
		}
	}
	return cns, nil
}

// planJobs: one named certificate (--name, or the guide's client.*), or
// a batch whose files the directory names from the CNs.
func planJobs(c *cli.Context, template *cfsslconf.Request, cns []string) ([]pkidir.Job, error) {
	// One --cn names its files from the CN, as a batch does (device-201
	// must not land on client.pem, James Royal's); client.* is the name
	// when the CN comes from client-csr.json, as in the guide.
	if len(cns) == 1 && !c.IsSet("name") {
		return pkidir.PlanBatch(template, cns)
	}
	if len(cns) <= 1 && (c.String("cn-file") == "" || c.IsSet("name")) {
		name := c.String("name")
		if err := checkBaseName(name); err != nil {
			return nil, err
		}
		return []pkidir.Job{{CN: template.CR.CN, Name: name, Req: template}}, nil
	}
	return pkidir.PlanBatch(template, cns)
}
