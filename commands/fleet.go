package commands

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

func clientListCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the client certificates recorded in DIR/inventory.tsv",
		Description: `Lists what mtlsctl issued in DIR, from its inventory: serial (as Access's
certSerial), status, CN, file name, not-after and days left.

EXAMPLES:
   mtlsctl client list
   mtlsctl client list --expiring 30d
   mtlsctl client list --revoked --json
   mtlsctl client list --cn 'device-*' --all

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "expiring", Usage: "only certificates expiring within `DURATION` (e.g. 30d)"},
			&cli.BoolFlag{Name: "revoked", Usage: "only revoked certificates"},
			&cli.BoolFlag{Name: "valid", Usage: "only certificates in force (neither revoked nor superseded by a renewal)"},
			&cli.StringFlag{Name: "cn", Usage: "only CNs matching `PATTERN` (shell glob)"},
			&cli.BoolFlag{Name: "all", Usage: "include the root and intermediate CAs"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runClientList(u, c)
		},
	}
}

func runClientList(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	var within time.Duration
	if s := c.String("expiring"); s != "" {
		if within, err = parseDuration("expiring", s); err != nil {
			return err
		}
	}
	if pat := c.String("cn"); pat != "" {
		if _, err := filepath.Match(pat, ""); err != nil {
			return usageErrorf("--cn %q is not a valid pattern", pat)
		}
	}
	inv, err := pkix.ReadInventory(dir)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := []pkix.Record{}
	for _, r := range inv.Records {
		switch {
		case r.Kind != "client" && !c.Bool("all"),
			c.Bool("revoked") && r.Status != "revoked",
			c.Bool("valid") && r.Status != "valid",
			within > 0 && (r.NotAfter.Sub(now) > within || r.Status == "revoked"):
			continue
		}
		if pat := c.String("cn"); pat != "" {
			if ok, _ := filepath.Match(pat, r.CN); !ok {
				continue
			}
		}
		rows = append(rows, r)
	}
	if c.Bool("json") {
		return u.printJSON(rows)
	}
	if len(inv.Records) == 0 {
		u.note("%s has no inventory yet: certificates issued by mtlsctl are recorded there", dir)
	}
	tw := tabwriter.NewWriter(u.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIAL\tSTATUS\tKIND\tCN\tNAME\tNOT AFTER\tDAYS LEFT")
	for _, r := range rows {
		status := r.Status
		if r.Status == "revoked" {
			status = "revoked " + r.RevokedAt.Format("2006-01-02")
			if r.Reason != "" {
				status += " (" + r.Reason + ")"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Serial, status, r.Kind, r.CN, r.Name, r.NotAfter.Format("2006-01-02"), daysLeft(r.NotAfter, now))
	}
	tw.Flush()
	fmt.Fprintf(u.out, "%d of %d certificates\n", len(rows), len(inv.Records))
	return nil
}

func daysLeft(t, now time.Time) int {
	d := t.Sub(now)
	if d < 0 {
		return -int((-d).Hours()/24) - 1
	}
	return int(d.Hours() / 24)
}

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
twice changes nothing (and rebuilds no CRL).

EXAMPLES:
   mtlsctl client revoke device-7 --reason keyCompromise --crl
   mtlsctl client revoke --serial 7F:39:24:DE:0A
   mtlsctl client revoke --cert lost-laptop.pem --reason cessationOfOperation

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "serial", Usage: "revoke the certificate with this `HEX` serial"},
			&cli.StringFlag{Name: "cert", Usage: "revoke the certificate in `FILE`"},
			&cli.StringFlag{Name: "reason", Usage: "RFC 5280 reason: keyCompromise, superseded, cessationOfOperation, ..."},
			&cli.BoolFlag{Name: "all", Usage: "revoke every certificate NAME matches"},
			&cli.BoolFlag{Name: "crl", Usage: "also rebuild the issuing CA's CRL (DIR/ca.crl, or DIR/NAME.crl for intermediate NAME)"},
			&cli.StringFlag{Name: "next-update", Value: "7d", Usage: "with --crl: how long the CRL is valid"},
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.Args().Len() > 1 {
				return usageErrorf("revoke takes one NAME").hint("use --all to revoke every certificate a name matches")
			}
			return runClientRevoke(u, c)
		},
	}
}

func runClientRevoke(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	selectors := 0
	for _, set := range []bool{name != "", c.String("serial") != "", c.String("cert") != ""} {
		if set {
			selectors++
		}
	}
	if selectors != 1 {
		return usageErrorf("say which certificate: a NAME, --serial HEX or --cert FILE (one of them)").hint("mtlsctl client revoke device-7")
	}
	var reason pkix.RevocationReason
	if s := c.String("reason"); s != "" {
		r, ok := pkix.ParseReason(s)
		if !ok || s == "removeFromCRL" {
			return usageErrorf("--reason %q is not an RFC 5280 reason", s).hint("reasons: %s", pkix.ReasonNames())
		}
		reason = r
	}
	var nextUpdate time.Duration
	if c.Bool("crl") {
		if nextUpdate, err = parseDuration("next-update", c.String("next-update")); err != nil {
			return err
		}
	}
	// The serial a --serial or --cert names, read before taking the lock.
	var wantSerial, comment string
	var wantCert *x509.Certificate
	switch {
	case c.String("serial") != "":
		parsed, ok, err := pkix.ParseSerialLine(c.String("serial"), false, nil)
		if err != nil || !ok || parsed.HasDate || parsed.Reason != 0 {
			return usageErrorf("--serial %q is not a hex serial", c.String("serial"))
		}
		wantSerial = pkix.SerialHex(pkix.SerialFromBytes(parsed.Serial))
	case c.String("cert") != "":
		cert, err := loadFile(c, c.String("cert"), pkix.ParseCertificatePEM, "")
		if err != nil {
			return err
		}
		wantSerial, comment, wantCert = pkix.SerialHex(cert.SerialNumber), "CN="+cert.Subject.CommonName, cert
	}

	lock, err := pkix.LockDir(dir, 5*time.Minute)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	inv, err := pkix.ReadInventory(dir)
	if err != nil {
		return err
	}
	res := newResult("client revoke")
	var targets []*pkix.Record
	// Revocations go to the CA that issued each certificate: its serials
	// file and CRL (serials.txt and ca.crl for the root, NAME-serials.txt
	// and NAME.crl for intermediate NAME).
	entries := map[string][]pkix.SerialEntry{}
	now := time.Now()
	if name != "" {
		targets = inv.Match(name)
		if len(targets) == 0 {
			return &pkix.Error{File: inv.Path, Msg: fmt.Sprintf("no client certificate with CN or name %q", name),
				Hint: "see 'mtlsctl client list'; to revoke a certificate mtlsctl did not record, use --cert FILE or --serial HEX"}
		}
		if len(targets) > 1 && !c.Bool("all") {
			var list []string
			for _, r := range targets {
				list = append(list, pkix.FormatRecord(r))
			}
			return usageErrorf("%q matches %d certificates: %s", name, len(targets), strings.Join(list, "; ")).
				hint("revoke one with --serial, or all of them with --all")
		}
	} else if r, ok := inv.Lookup(wantSerial); ok {
		if r.Kind == "root" {
			return usageErrorf("serial %s is the root CA %q; a root cannot be revoked by its own CRL", wantSerial, r.CN).
				hint("make a new CA (mtlsctl ca init --dir NEW) and move the clients to it")
		}
		targets = []*pkix.Record{r}
	} else {
		issuer := issuerOfCert(dir, inv, wantCert)
		res.Warnings = append(res.Warnings, fmt.Sprintf("serial %s is not in %s: added to %s anyway (a certificate mtlsctl did not record?)",
			wantSerial, inv.Path, revocationFiles(dir, issuer).serials))
		entries[issuer] = append(entries[issuer], pkix.SerialEntry{Serial: wantSerial, Reason: reason, At: now, Comment: comment})
	}
	for _, r := range targets {
		// The serials file gets the serial even for a record already
		// revoked, in case the file was lost; AppendSerials skips listed ones.
		entries[r.Issuer] = append(entries[r.Issuer], pkix.SerialEntry{Serial: r.Serial, Reason: reason, At: now, Comment: "CN=" + r.CN})
	}

	// Everything that can fail is checked before anything is written: the
	// serials files parse, and with --crl each issuer can sign a CRL and
	// its CRL file is its own.
	var files []pkix.File
	var builds []crlOptions
	for _, issuer := range sortedIssuers(entries) {
		rf := revocationFiles(dir, issuer)
		content, added, err := pkix.AppendSerials(rf.serials, entries[issuer])
		if err != nil {
			return err
		}
		// crl build's own reader must accept the result (it is stricter
		// about dates than appending needs to be).
		if c.Bool("crl") {
			if err := pkix.ReadSerials(bytes.NewReader(content), rf.serials, false, now, pkix.NewCRLBuilder(len(content), now)); err != nil {
				return err
			}
		}
		if added > 0 {
			files = append(files, pkix.File{Path: rf.serials, Data: content, Mode: pkix.ModePublic, Kind: "revoked serials", Replace: true})
		}
		if c.Bool("crl") {
			o := crlOptions{dir: dir, serialsPath: rf.serials, caPath: rf.cert, keyPath: rf.key, out: rf.crl, nextUpdate: nextUpdate, json: c.Bool("json")}
			if _, _, _, err := crlSigner(nil, o); err != nil {
				return err
			}
			builds = append(builds, o)
		}
	}
	changed := false
	for _, r := range targets {
		if r.Status == "revoked" {
			res.Notes = append(res.Notes, fmt.Sprintf("%s was already revoked on %s; nothing to do", pkix.FormatRecord(r), r.RevokedAt.Format("2006-01-02")))
		}
		if r.Revoke(reason, now) {
			changed = true
			res.Revoked = append(res.Revoked, *r)
		}
	}
	if len(files) > 0 {
		w, err := pkix.WriteFiles(files, false)
		if err != nil {
			return err
		}
		res.addWritten(w, nil)
	}
	if changed {
		if err := inv.Save(); err != nil {
			return err
		}
		res.Recorded = inv.Path
	}
	sort.Slice(res.Revoked, func(a, b int) bool { return res.Revoked[a].CN < res.Revoked[b].CN })
	if !changed && len(files) == 0 && len(builds) > 0 {
		res.Notes = append(res.Notes, "nothing changed, so the CRL was not rebuilt")
		builds = nil
	}
	for _, o := range builds {
		crlRes, err := buildCRL(u, c.App.Reader, o)
		if err != nil {
			return err
		}
		res.Files = append(res.Files, crlRes.Files...)
		res.Warnings = append(res.Warnings, crlRes.Warnings...)
		res.CRL = crlRes.CRL
	}
	if c.Bool("json") {
		return u.report(res, true)
	}
	for _, r := range res.Revoked {
		fmt.Fprintf(u.out, "revoked %s\n", pkix.FormatRecord(&r))
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
	return nil
}

// revocationPaths are where an issuing CA's revocations live.
type revocationPaths struct{ cert, key, serials, crl string }

// revocationFiles names them: the guide's serials.txt and ca.crl for the
// root ("ca"), NAME-serials.txt and NAME.crl for intermediate NAME.
func revocationFiles(dir, issuer string) revocationPaths {
	if issuer == "" || issuer == "ca" {
		return revocationPaths{filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem"), filepath.Join(dir, "serials.txt"), filepath.Join(dir, "ca.crl")}
	}
	return revocationPaths{filepath.Join(dir, issuer+".pem"), filepath.Join(dir, issuer+"-key.pem"),
		filepath.Join(dir, issuer+"-serials.txt"), filepath.Join(dir, issuer+".crl")}
}

func sortedIssuers(m map[string][]pkix.SerialEntry) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// issuerOfCert finds which CA of the directory signed a certificate
// mtlsctl did not record: the root, or a recorded intermediate. The root
// is assumed when there is no certificate to look at.
func issuerOfCert(dir string, inv *pkix.Inventory, cert *x509.Certificate) string {
	if cert == nil {
		return "ca"
	}
	names := []string{"ca"}
	for _, r := range inv.Records {
		if r.Kind == "intermediate" && r.Status == "valid" {
			names = append(names, r.Name)
		}
	}
	cas := map[string]*x509.Certificate{}
	for _, name := range names {
		if data, err := os.ReadFile(revocationFiles(dir, name).cert); err == nil {
			if ca, err := pkix.ParseCertificatePEM(name, data); err == nil {
				cas[name] = ca
			}
		}
	}
	if name, ok := pkix.IssuerAmong(cert, names, cas); ok {
		return name
	}
	return "ca"
}
