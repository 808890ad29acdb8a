package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// RevokeRequest says which certificates to revoke: by Name (CN or file
// base name), Serial (uppercase hex) or Cert.
type RevokeRequest struct {
	Name   string
	Serial string
	Cert   *x509.Certificate
	// Serials: several recorded certificates at once, in one transaction
	// with one CRL rebuild (renew --revoke-old); each must be recorded.
	Serials []string
	All     bool // every certificate Name matches
	// AllWithKey: with keyCompromise, also revoke every valid certificate
	// of the same key (otherwise they are named in warnings).
	AllWithKey bool
	Reason     crl.RevocationReason
	// Foreign revokes a certificate the inventory does not know (issued
	// by a CA of this directory, but by another tool): Cert, or Issuer
	// (a CA's name) with Serial, says whose list it goes on.
	Foreign bool
	Issuer  string
	// CRL rebuilds each issuing CA's CRL in the same transaction.
	CRL        bool
	NextUpdate time.Duration
}

// RevokeResult is what a revocation did.
type RevokeResult struct {
	Revoked  []inventory.Record
	Written  []atomicfile.Written
	CRLs     []*crl.CRL
	Notes    []string
	Warnings []string
	Repaired []string
}

// ErrAmbiguous is a name that designates several certificates.
var ErrAmbiguous = errors.New("ambiguous name")

// ErrUnknown is a name or serial the inventory does not know.
var ErrUnknown = errors.New("not in the inventory")

// Revoke marks certificates revoked in the inventory, lists them in their
// issuing CA's serials file and, with CRL, rebuilds that CA's CRL: all in
// one transaction. Revoking twice changes nothing, except that a CRL
// that does not list every revoked certificate yet is rebuilt.
func (d *Ops) Revoke(ctx context.Context, req *RevokeRequest) (*RevokeResult, error) {
	sess, err := d.Lock(ctx)
	if err != nil {
		return nil, err
	}
	defer sess.Unlock()
	res := &RevokeResult{Repaired: sess.Repaired}
	at := dirview.Now()

	wanted := map[string]bool{}
	for _, sr := range req.Serials {
		wanted[sr] = true
	}
	if sr := req.serial(); sr != "" {
		wanted[sr] = true
	}
	sc, err := d.scan(req.Name, wanted)
	if err != nil {
		return nil, err
	}
	targets, foreign, err := d.revocationTargets(req, sc, res)
	if err != nil {
		return nil, err
	}
	if targets, err = d.withSameKey(req, targets, res); err != nil {
		return nil, err
	}
	// Revocations go to the CA that issued each certificate.
	entries := map[string][]inventory.SerialEntry{}
	revokedNow := map[string]map[string]bool{}
	if foreign != nil {
		entries[foreign.issuer] = append(entries[foreign.issuer], inventory.SerialEntry{Serial: foreign.serial, Reason: req.Reason, At: at, Comment: foreign.comment})
		revokedNow[foreign.issuer] = map[string]bool{foreign.serial: true}
	}
	var updates []inventory.Record
	for _, r := range targets {
		// A certificate a retired key signed goes on that key's list: the
		// edge looks it up under the key named by its AKI.
		issuer := sc.keys.Issuer(r.Issuer, r.Serial)
		if dirview.IsExternal(r.Issuer) {
			return nil, &pkix.Error{Msg: fmt.Sprintf("%s was issued by a CA outside %s (%s): its revocation belongs on that CA's list", inventory.FormatRecord(&r), d.Path(), r.Issuer),
				Hint: "revoke it in the directory of the CA that issued it (%s there)", HintArgs: []any{pkix.Cmd(pkix.ActRevokeClient, pkix.OptForeign, pkix.OptCert.With("FILE"))}}
		}
		// The serials file gets the serial even for a record already
		// revoked, in case the file was lost; AppendSerials skips listed ones.
		entries[issuer] = append(entries[issuer], inventory.SerialEntry{Serial: r.Serial, Reason: req.Reason, At: at, Comment: "CN=" + r.CN})
		if revokedNow[issuer] == nil {
			revokedNow[issuer] = map[string]bool{}
		}
		revokedNow[issuer][r.Serial] = true
		if r.Status == inventory.StatusRevoked {
			res.Notes = append(res.Notes, fmt.Sprintf("%s was already revoked on %s; nothing to do", inventory.FormatRecord(&r), r.RevokedAt.Format("2006-01-02")))
			continue
		}
		r.Revoke(req.Reason, at)
		updates = append(updates, r)
		res.Revoked = append(res.Revoked, r)
	}

	// Everything that can fail is done before anything is written: the
	// serials files are parsed and appended in memory, each CRL is signed
	// and checked, and every output is staged.
	st, err := d.NewStage()
	if err != nil {
		return nil, err
	}
	defer st.Release()
	behind, err := d.behindOf(sc, revokedNow)
	if err != nil {
		return nil, err
	}
	missing := map[string][]string{}
	for _, b := range behind {
		missing[b.CA] = b.Serials
		if _, touched := entries[b.CA]; !touched {
			// Another CA's CRL is behind too: say so, whichever CA this is.
			res.Warnings = append(res.Warnings, b.Message())
		}
	}
	var sets []dirtx.Set
	for _, issuer := range sortedKeys(entries) {
		ca := d.CA(issuer)
		// Read only a file mtlsctl may rewrite: a planted link (to a key)
		// must not be read, quoted in an error, or replaced.
		if err := rewritable(ca.Serials); err != nil {
			return nil, err
		}
		content, added, err := inventory.AppendSerials(ca.Serials, entries[issuer])
		if err != nil {
			return nil, err
		}
		if foreign != nil && foreign.issuer == issuer {
			if added > 0 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("serial %s is not in %s: added to %s as a certificate issued elsewhere",
					foreign.serial, d.Inventory(), ca.Serials))
			} else {
				res.Notes = append(res.Notes, fmt.Sprintf("serial %s is already listed in %s", foreign.serial, ca.Serials))
			}
		}
		var files []atomicfile.File
		if added > 0 {
			files = append(files, atomicfile.File{Path: ca.Serials, Data: content, Mode: atomicfile.ModePublic, Kind: "revoked serials", Replace: true})
		}
		behind := missing[d.CA(issuer).Name]
		switch {
		case req.CRL && (added > 0 || len(behind) > 0):
			job, err := d.crlSigner(issuer, dirview.CAInput{})
			if err != nil {
				return nil, err
			}
			if err := d.resolveCRLOut(job, "", false); err != nil {
				return nil, err
			}
			crl, err := d.signCRL(job, bytes.NewReader(content), ca.Serials, len(content), false, req.NextUpdate)
			if err != nil {
				return nil, err
			}
			chk, err := d.checkCRL(job, crl, ca.Serials, false, nil, revokedNow[issuer])
			if err != nil {
				return nil, err
			}
			res.Warnings = append(res.Warnings, chk.warnings...)
			files = append(files, crlFile(job, crl, false))
			res.CRLs = append(res.CRLs, crl)
		case req.CRL:
			res.Notes = append(res.Notes, fmt.Sprintf("nothing changed, so the CRL was not rebuilt (%s lists every revoked certificate)", ca.CRL))
		case len(behind) > 0:
			res.Warnings = append(res.Warnings, behindMessage(ca, behind))
		}
		if len(files) > 0 {
			sets = append(sets, dirtx.Set{Staged: st.Files(files, false)})
		}
	}
	// One CA's files that cannot be placed (a name taken by another
	// program) fail the whole revocation: nothing of it is recorded half.
	written, err := sess.CommitAll(dirtx.Change{Op: "client revoke", Sets: sets, Updates: updates})
	if err != nil {
		return nil, err
	}
	res.Written = append(res.Written, written...)
	sort.Slice(res.Revoked, func(a, b int) bool { return res.Revoked[a].CN < res.Revoked[b].CN })
	return res, nil
}

type foreignSerial struct{ serial, issuer, comment string }

// serial is the serial a request names, if it names one.
func (req *RevokeRequest) serial() string {
	if req.Cert != nil {
		return x509text.SerialHex(req.Cert.SerialNumber)
	}
	return req.Serial
}

// revocationTargets finds the records a request designates.
func (d *Ops) revocationTargets(req *RevokeRequest, sc *invScan, res *RevokeResult) ([]inventory.Record, *foreignSerial, error) {
	if len(req.Serials) > 0 {
		found := map[string]bool{}
		for _, r := range sc.matched {
			found[r.Serial] = true
		}
		for _, sr := range req.Serials {
			if !found[sr] {
				return nil, nil, &pkix.Error{File: d.Inventory(), Msg: "serial " + sr + " is not recorded", Err: ErrUnknown}
			}
		}
		for _, r := range sc.matched {
			if r.Kind.IsCA() {
				return nil, nil, &pkix.Error{Msg: pkix.Textf("serial %s is a CA (%s): revoke it with '%s'", r.Serial, r.CN, pkix.Cmd(pkix.ActRevokeClient, pkix.OptSerial)).String()}
			}
		}
		return sc.matched, nil, nil
	}
	if req.Name != "" {
		var targets []inventory.Record
		for _, r := range sc.matched {
			if (r.CN == req.Name || r.Name == req.Name) && r.Kind == inventory.KindClient && r.Status != inventory.StatusSuperseded {
				targets = append(targets, r)
			}
		}
		if len(targets) == 0 {
			hint := pkix.Textf("see '%s'; to revoke a certificate mtlsctl did not record, use %s or %s with %s",
				pkix.ActListClients, pkix.OptCert.With("FILE"), pkix.OptSerial.With("HEX"), pkix.OptForeign)
			if near := d.nearestName(req.Name); near != "" {
				hint = pkix.Textf("did you mean %q? (see '%s')", near, pkix.ActListClients)
			}
			// An intermediate recorded here is revoked by its certificate
			// or serial, without --foreign: its record says whose list it
			// goes on, and --foreign is refused for a recorded certificate.
			if ca := d.recordedIntermediate(req.Name); ca != "" {
				hint = pkix.Textf("%s is an intermediate CA of this directory, named by its certificate: '%s'", req.Name, pkix.Cmd(pkix.ActRevokeClient, pkix.OptCert.With(x509text.ShellQuote(ca))))
			}
			return nil, nil, &pkix.Error{File: d.Inventory(), Msg: fmt.Sprintf("no client certificate with CN or name %q", req.Name), Err: ErrUnknown, Hint: hint.Format, HintArgs: hint.Args}
		}
		if len(targets) > 1 && !req.All {
			var list []string
			for _, r := range targets {
				list = append(list, inventory.FormatRecord(&r))
			}
			return nil, nil, &pkix.Error{Msg: fmt.Sprintf("%q matches %d certificates: %s", req.Name, len(targets), strings.Join(list, "; ")),
				Err: ErrAmbiguous, Hint: "revoke one with %s, or all of them with %s", HintArgs: []any{pkix.OptSerial, pkix.OptAll}}
		}
		return targets, nil, nil
	}
	serial := req.serial()
	var r *inventory.Record
	for i := range sc.matched {
		if sc.matched[i].Serial == serial {
			r = &sc.matched[i]
		}
	}
	if r != nil {
		if req.Foreign || req.Issuer != "" {
			// Recorded: its issuer is known, whatever --issuer says.
			res.Notes = append(res.Notes, pkix.Textf("serial %s is in the inventory (CN=%s, issued by %s): %s and %s are not needed, and its own CA's list is used", serial, r.CN, r.Issuer, pkix.OptForeign, pkix.OptIssuer).String())
		}
		if r.Kind == inventory.KindRoot {
			return nil, nil, &pkix.Error{Msg: fmt.Sprintf("serial %s is the root CA %q; a root cannot be revoked by its own CRL", serial, r.CN),
				Hint: "make a new CA (%s) and move the clients to it", HintArgs: []any{pkix.Cmd(pkix.ActMakeCA, pkix.OptDir.With("NEW"))}}
		}
		return []inventory.Record{*r}, nil, nil
	}
	// A serial nobody recorded is a typo until the user says otherwise:
	// revoking it would leave the intended certificate valid.
	if !req.Foreign {
		hint := pkix.Textf("check the serial ('%s'); for a certificate a CA of this directory issued with another tool, add %s", pkix.ActListClients, pkix.OptForeign)
		if near := d.nearestSerial(serial); near != nil {
			hint = pkix.Textf("did you mean %s (CN=%s)?", near.Serial, near.CN)
		}
		return nil, nil, &pkix.Error{File: d.Inventory(), Msg: fmt.Sprintf("serial %s is not in the inventory", serial), Err: ErrUnknown, Hint: hint.Format, HintArgs: hint.Args}
	}
	f := &foreignSerial{serial: serial}
	switch {
	case req.Cert != nil:
		issuer, ok := d.issuerOf(req.Cert)
		if !ok {
			return nil, nil, &pkix.Error{Msg: fmt.Sprintf("the certificate (%s) was not issued by any CA of %s", x509text.SubjectDN(req.Cert), d.Path()),
				Hint: "revoke it with the CA that issued it, in its own directory"}
		}
		f.issuer, f.comment = issuer, "CN="+x509text.Printable(req.Cert.Subject.CommonName)
	case req.Issuer != "":
		if err := d.CheckCAName(req.Issuer); err != nil {
			return nil, nil, err
		}
		f.issuer = d.CA(req.Issuer).Name
	default:
		return nil, nil, &pkix.Error{Msg: pkix.Textf("%s needs to know whose revocation list the serial goes on", pkix.OptForeign).String(),
			Hint: "give the certificate with %s, or its CA with %s (ca for the root)", HintArgs: []any{pkix.OptCert.With("FILE"), pkix.OptIssuer.With("NAME")}}
	}
	return nil, f, nil
}

// nearestName is the recorded client CN or file name closest to name.
func (d *Ops) nearestName(name string) string {
	inv, err := d.ReadInventory()
	if err != nil {
		return ""
	}
	var names []string
	for _, r := range inv.Records {
		if r.Kind == inventory.KindClient && r.Status != inventory.StatusSuperseded {
			names = append(names, r.CN, r.Name)
		}
	}
	return x509text.Closest(name, names)
}

// nearestSerial is a recorded serial one edit away from serial (a digit
// missing, added, mistyped or swapped), if exactly one is.
func (d *Ops) nearestSerial(serial string) *inventory.Record {
	inv, err := d.ReadInventory()
	if err != nil {
		return nil
	}
	var found *inventory.Record
	for i := range inv.Records {
		if x509text.WithinOneEdit(serial, inv.Records[i].Serial) {
			if found != nil {
				return nil
			}
			found = &inv.Records[i]
		}
	}
	return found
}

// issuerOf finds which CA of the directory signed a certificate mtlsctl
// did not record: the root, or an intermediate whose files are here.
func (d *Ops) issuerOf(cert *x509.Certificate) (string, bool) {
	names, cas := d.caCertificates()
	return chain.IssuerAmong(cert, names, cas)
}

// caCertificates are the directory's CAs: the root, then the valid
// intermediates, by name, with their certificates.
func (d *Ops) caCertificates() ([]string, map[string]*x509.Certificate) {
	names := []string{dirview.RootName}
	if inv, err := d.ReadInventory(); err == nil {
		for _, r := range inv.Records {
			if r.Kind == inventory.KindIntermediate && r.Status == inventory.StatusValid {
				names = append(names, r.Name)
			}
		}
	}
	cas := map[string]*x509.Certificate{}
	for _, name := range names {
		if certs, err := dirview.ReadCerts(d.CA(name).Cert, pkix.Text{}); err == nil {
			cas[name] = certs[0]
		}
	}
	return names, cas
}

// CRLIssuer names the certificate file of the directory's CA that signed
// rl (the root or an intermediate), so an intermediate's CRL is checked
// against the intermediate without --ca.
func (d *Ops) CRLIssuer(rl *crl.RevocationList) (string, bool) {
	names, cas := d.caCertificates()
	for _, name := range names {
		if ca, ok := cas[name]; ok && rl.VerifyBy(ca, d.CA(name).Cert) == nil {
			return d.CA(name).Cert, true
		}
	}
	return "", false
}

// Behind is a CA whose CRL does not list every certificate the inventory
// marks revoked under it.
type Behind struct {
	CA      string   // the CA's name
	CRL     string   // its CRL file
	Serials []string // revoked, not listed
	Serial  string   // the serials file to build from
}

func behindMessage(ca dirview.CAFiles, missing []string) string {
	// The command names the CA even for the root (--issuer ca): the hint
	// is about one CA's CRL, and the command that prints it may have been
	// given another --issuer, which would otherwise be added to it.
	rebuild := pkix.Cmd(pkix.ActBuildCRL, x509text.ShellQuote(ca.Serials), pkix.OptIssuer.With(x509text.ShellQuote(ca.Name)))
	return pkix.Textf("%s does not list %d revoked certificate%s yet (%s): rebuild it with '%s', or revoke with %s",
		ca.CRL, len(missing), dirtx.Plural(len(missing)), strings.Join(missing[:min(3, len(missing))], ", "), rebuild, pkix.OptCRL).String()
}

// CRLsBehind checks every issuing CA of the directory: check, revoke and
// crl build report what it finds, and revoke --crl / crl build repair it.
func (d *Ops) CRLsBehind() ([]Behind, error) {
	return d.crlsBehind(nil)
}

// invScan is one pass over the inventory, for a revocation: the revoked
// serials of each issuer (is a CRL behind?) and the records a name or a
// serial designates. A 100,000-certificate inventory costs one pass over
// its bytes, not two searches and a scan, nor a record per line.
type invScan struct {
	revoked map[string]map[string]bool // issuer (the key that signed: see retired.go) -> serials
	matched []inventory.Record         // by name or serial, latest state
	keys    dirview.RetiredSigners     // serials signed by a retired key
}

func (d *Ops) scan(name string, serials map[string]bool) (*invScan, error) {
	keys, err := d.RetiredIssuers()
	if err != nil {
		return nil, err
	}
	sc := &invScan{revoked: map[string]map[string]bool{}, keys: keys}
	data, err := d.InventoryData()
	if err != nil || data == nil {
		return sc, err
	}
	word := []byte(inventory.StatusRevoked)
	nameField := []byte(inventory.EscapeInventoryField(name))
	at := map[string]int{}
	var perr error
	err = inventory.ScanInventory(d.Inventory(), data, func(l inventory.InventoryLine) {
		issuer := keys.Issuer(string(l.Issuer), string(l.Serial))
		if bytes.Equal(l.Status, word) && string(l.Kind) != string(inventory.KindRoot) {
			set := sc.revoked[issuer]
			if set == nil {
				set = map[string]bool{}
				sc.revoked[issuer] = set
			}
			set[string(l.Serial)] = true
		} else if set := sc.revoked[issuer]; set != nil {
			delete(set, string(l.Serial)) // a later line lifted it
		}
		if (name != "" && (bytes.Equal(l.CN, nameField) || bytes.Equal(l.Name, nameField))) || (len(serials) > 0 && serials[string(l.Serial)]) {
			r, err := l.ParseLine(d.Inventory())
			if err != nil {
				perr = err
				return
			}
			if k, ok := at[r.Serial]; ok {
				sc.matched[k] = r
			} else {
				at[r.Serial] = len(sc.matched)
				sc.matched = append(sc.matched, r)
			}
		}
	})
	if err == nil {
		err = perr
	}
	return sc, err
}

// crlsBehind is CRLsBehind with serials a transaction is revoking now
// counted as revoked, per issuer.
func (d *Ops) crlsBehind(extra map[string]map[string]bool) ([]Behind, error) {
	sc, err := d.scan("", nil)
	if err != nil {
		return nil, err
	}
	return d.behindOf(sc, extra)
}

func (d *Ops) behindOf(sc *invScan, extra map[string]map[string]bool) ([]Behind, error) {
	revoked := sc.revoked
	for issuer, serials := range extra {
		if revoked[issuer] == nil {
			revoked[issuer] = map[string]bool{}
		}
		for s := range serials {
			revoked[issuer][s] = true
		}
	}
	var out []Behind
	for _, issuer := range sortedKeys(revoked) {
		if dirview.IsExternal(issuer) {
			continue // another directory's CA: not ours to publish
		}
		missing, err := d.crlMissing(issuer, revoked[issuer])
		if err != nil {
			return nil, err
		}
		if len(missing) > 0 {
			ca := d.CA(issuer)
			out = append(out, Behind{CA: ca.Name, CRL: ca.CRL, Serials: missing, Serial: ca.Serials})
		}
	}
	return out, nil
}

// BehindMessage is the one line that says what to do about b.
func (b Behind) Message() string {
	return behindMessage(dirview.CAFiles{Name: b.CA, CRL: b.CRL, Serials: b.Serial}, b.Serials)
}

// crlMissing removes from want what the CA's CRL lists and returns the
// rest, sorted.
func (d *Ops) crlMissing(issuer string, want map[string]bool) ([]string, error) {
	if len(want) == 0 {
		return nil, nil
	}
	path := d.CA(issuer).CRL
	h, err := readCRLHeaderFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, &pkix.Error{File: path, Msg: "exists and is not a CRL; refusing to replace it", Err: err,
			Hint: "move it away: the next CRL build starts afresh"}
	default:
		if err := eachEntryOfCRL(path, h, func(e crl.RevokedEntry) { delete(want, hexUpper(e.Serial)) }); err != nil {
			return nil, &pkix.Error{File: path, Msg: "cannot read the CRL's serials: " + err.Error(), Err: err}
		}
	}
	out := make([]string, 0, len(want))
	for s := range want {
		out = append(out, s)
	}
	sort.Strings(out)
	return out, nil
}

// rewritable refuses an output mtlsctl rewrites in place that is not a
// regular file of its own (absent is fine).
func rewritable(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return &pkix.Error{File: path, Msg: "cannot check: " + dirtx.Unwrap(err).Error(), Err: err}
	}
	if !info.Mode().IsRegular() {
		return &pkix.Error{File: path, Msg: "is not a regular file (a symlink?); mtlsctl rewrites it and will not replace or follow it",
			Hint: "replace the link with the file itself"}
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// recordedIntermediate is the certificate file of the valid intermediate
// the inventory records by name or CN, "" if none.
func (d *Ops) recordedIntermediate(name string) string {
	inv, err := d.ReadInventory()
	if err != nil {
		return ""
	}
	for _, r := range inv.Records {
		if r.Kind == inventory.KindIntermediate && r.Status == inventory.StatusValid && (r.Name == name || r.CN == name) && atomicfile.Exists(d.CA(r.Name).Cert) {
			return d.CA(r.Name).Cert
		}
	}
	return ""
}
