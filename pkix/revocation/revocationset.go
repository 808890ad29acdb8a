package revocation

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Access does not read CRLs: revocation is enforced at Cloudflare's edge
// (a Worker, or WAF rules) from what the signed CRLs say. This file turns
// the directory's CRLs into that list, keyed the way Cloudflare
// identifies a certificate: the issuer's subject key identifier
// (certIssuerSKI) and the serial (certSerial). A serial alone is not
// unique across CAs.

// Revocation is one revoked certificate as the edge sees it.
type Revocation struct {
	IssuerSKI string    `json:"certIssuerSKI"` // upper-case hex, leading zeros kept: bytes, not a number
	Serial    string    `json:"certSerial"`    // upper-case hex, no leading zero bytes
	Reason    string    `json:"reason,omitempty"`
	RevokedAt time.Time `json:"revoked_at"`
	CA        string    `json:"ca"` // the issuing CA's name in the directory
}

// CRLSource is a CRL the list was built from.
type CRLSource struct {
	CA         string    `json:"ca"`
	File       string    `json:"file"`
	IssuerSKI  string    `json:"issuer_ski"`
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Count      int       `json:"count"`
}

// RevocationSet is everything the edge must refuse. The revoked
// certificates are streamed from the verified CRLs (Each), never held as
// a million structs.
type RevocationSet struct {
	CRLs []CRLSource `json:"crls"`
	// RevokedCAs are the key identifiers of CAs at or below a revoked CA:
	// every certificate they issued is refused, at any depth.
	RevokedCAs []string              `json:"revoked_cas"`
	Count      int                   `json:"count"` // revoked certificates
	lists      []*crl.RevocationList // read and checked, in CRLs' order
}

// Each calls fn with every revoked certificate, CRL by CRL, in each CRL's
// order.
func (s *RevocationSet) Each(fn func(Revocation) error) error {
	for i, c := range s.CRLs {
		var ferr error
		err := s.lists[i].EachRevokedEntry(bytes.NewReader(s.lists[i].DER), func(e crl.RevokedEntry) {
			if ferr != nil {
				return
			}
			r := Revocation{IssuerSKI: c.IssuerSKI, Serial: hexUpper(e.Serial), RevokedAt: e.Date.UTC(), CA: c.CA}
			if e.HasReason { // an explicit unspecified too, as crl show shows it
				r.Reason = e.Reason.String()
			}
			ferr = fn(r)
		})
		if err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Revoked is every revoked certificate, sorted by issuer and serial (for
// exports; a Worker's data is streamed with Each).
func (s *RevocationSet) Revoked() ([]Revocation, error) {
	out := make([]Revocation, 0, s.Count)
	err := s.Each(func(r Revocation) error { out = append(out, r); return nil })
	sort.Slice(out, func(a, b int) bool {
		if out[a].IssuerSKI != out[b].IssuerSKI {
			return out[a].IssuerSKI < out[b].IssuerSKI
		}
		return out[a].Serial < out[b].Serial
	})
	return out, err
}

// Revocations reads every CRL of the directory (the root's and each
// intermediate's), each verified against its CA, and refuses what would
// make the edge enforce something other than the CRLs: a CRL past its
// next update or without one, one behind the inventory, one that is not
// a complete list, a CA without a key identifier. A million-entry CRL is
// verified by hashing it and read by streaming its entries. The CRLs of
// retired keys still in use are read beside the current keys' (each
// revocation keyed by the key that signed the certificate), and a CRL
// given from outside for one of the directory's CAs must not be behind
// the directory's own (GuardCRL).
func (d *Ops) Revocations(now time.Time, externalCRLs ...ExternalCRL) (*RevocationSet, error) {
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, err
	}
	behind, err := d.CRLsBehind()
	if err != nil {
		return nil, err
	}
	if len(behind) > 0 {
		return nil, &pkix.Error{Msg: behind[0].Message(), Hint: "the edge would let those certificates in: rebuild the CRL first"}
	}
	// Every CA the inventory records, with its certificate when the
	// directory still holds it (a root kept offline does not): a CRL is
	// never silently skipped because its CA's file is elsewhere.
	type ca struct {
		name, issuer string
		cert         *x509.Certificate // nil when its file is not here
		serial, sha  string
	}
	keys, err := d.RetiredIssuers()
	if err != nil {
		return nil, err
	}
	allRetired, err := d.RetiredKeys()
	if err != nil {
		return nil, err
	}
	// A retired key's own record (superseded, or revoked since, before or
	// after the re-key) is not its name's current CA: it is read below
	// from its manifest and its retired files, under its own key
	// identifier. Taken here, it stood for the name's current CA, whose
	// file does not match it, and every export stopped.
	retiredCA := map[string]bool{}
	for _, k := range allRetired {
		retiredCA[k.CASerial] = true
	}
	cas := []ca{}
	caSerials := map[string]bool{}
	for _, r := range inv.Records {
		if !r.Kind.IsCA() || r.Status == inventory.StatusSuperseded || retiredCA[r.Serial] {
			continue
		}
		c := ca{name: r.Name, issuer: keys.Issuer(r.Issuer, r.Serial), serial: r.Serial, sha: r.SHA256}
		if certs, err := dirview.ReadCerts(d.CA(r.Name).Cert, pkix.Text{}); err == nil && x509text.FingerprintSHA256(certs[0]) == r.SHA256 {
			c.cert = certs[0]
		}
		cas = append(cas, c)
		caSerials[r.Serial] = true
	}
	// A retired key's certificates still chain until they expire: its CRL
	// is enforced beside the new key's, under its own key identifier.
	retired, err := d.LiveRetiredKeys(now)
	if err != nil {
		return nil, err
	}
	for _, k := range retired {
		c := ca{name: k.Name, issuer: k.Issuer, serial: k.CASerial}
		if certs, err := dirview.ReadCerts(d.CA(k.Name).Cert, pkix.Text{}); err == nil {
			c.cert, c.sha = certs[0], x509text.FingerprintSHA256(certs[0])
		}
		cas = append(cas, c)
		caSerials[k.CASerial] = true
	}
	if len(cas) == 0 {
		return nil, &pkix.Error{File: d.Inventory(), Msg: "records no CA", Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeCA}}
	}
	set := &RevocationSet{CRLs: []CRLSource{}, RevokedCAs: []string{}}
	revokedSerials := map[string]map[string]bool{} // CA name -> CA serials its CRL lists
	// CRLs made elsewhere: a CA of the inventory (a root kept offline,
	// given with --ca) takes its own name; another CA its key identifier,
	// the issuer the inventory records for what it signed.
	external := append([]ExternalCRL(nil), externalCRLs...)
	for _, x := range external {
		name, listed, err := set.addExternal(x, now, caSerials, func(cert *x509.Certificate) string {
			for i := range cas {
				if cas[i].sha == x509text.FingerprintSHA256(cert) {
					if cas[i].cert == nil {
						cas[i].cert = cert
					}
					return cas[i].name
				}
			}
			return dirview.ExternalIssuer(cert)
		}, d.GuardCRL)
		if err != nil {
			return nil, err
		}
		revokedSerials[name] = listed
	}
	for _, c := range cas {
		if _, done := revokedSerials[c.name]; done {
			continue // its CRL came with --crl
		}
		file := d.CA(c.name).CRL
		if c.cert == nil {
			if _, err := os.Lstat(file); err == nil {
				return nil, &pkix.Error{File: file, Msg: fmt.Sprintf("cannot be verified: the certificate of CA %s is not in %s", c.name, d.Path()),
					Hint: "restore %s, or give it with %s %s", HintArgs: []any{d.CA(c.name).Cert, pkix.OptCRL.With(file), pkix.OptCA.With("FILE")}}
			}
			continue
		}
		if len(c.cert.SubjectKeyId) == 0 {
			return nil, &pkix.Error{File: d.CA(c.name).Cert, Msg: "has no subject key identifier, which Cloudflare sends as certIssuerSKI to tell CAs apart",
				Hint: "re-create this CA with mtlsctl (it always sets one)"}
		}
		ski := strings.ToUpper(hex.EncodeToString(c.cert.SubjectKeyId))
		// Bounded and never blocking: a FIFO or a link to /dev/zero put in
		// place of the CRL is refused, not waited on or read forever.
		data, _, err := input.ReadRegular(file, input.InputCRL)
		if errors.Is(err, fs.ErrNotExist) {
			continue // nothing revoked by it (else the inventory would say it is behind)
		} else if err != nil {
			return nil, err
		}
		listed := map[string]bool{}
		rl, err := ReadEdgeCRL(file, data, c.cert, d.CA(c.name).Cert, now, func(e crl.RevokedEntry) {
			if s := hexUpper(e.Serial); caSerials[s] {
				listed[s] = true
			}
		})
		if err != nil {
			return nil, err
		}
		h := rl.CRLHeader
		src := CRLSource{CA: c.name, File: file, IssuerSKI: ski, Number: numberString(h.Number), ThisUpdate: h.ThisUpdate.UTC(), NextUpdate: h.NextUpdate.UTC(), Count: rl.Count}
		set.CRLs = append(set.CRLs, src)
		set.lists = append(set.lists, rl)
		set.Count += src.Count
		revokedSerials[c.name] = listed
	}
	// Revoked CAs: an intermediate its issuer's CRL lists, then every CA
	// under a revoked one, until nothing changes.
	revoked := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, c := range cas {
			if revoked[c.name] || c.name == c.issuer {
				continue
			}
			if revokedSerials[c.issuer][c.serial] || revoked[c.issuer] {
				revoked[c.name], changed = true, true
			}
		}
	}
	for _, c := range cas {
		if !revoked[c.name] {
			continue
		}
		if c.cert == nil || len(c.cert.SubjectKeyId) == 0 {
			return nil, &pkix.Error{File: d.CA(c.name).Cert, Msg: fmt.Sprintf("CA %s is revoked, but its key identifier is unknown without its certificate: what it issued could not be refused", c.name),
				Hint: "restore its certificate in the directory"}
		}
		set.RevokedCAs = append(set.RevokedCAs, strings.ToUpper(hex.EncodeToString(c.cert.SubjectKeyId)))
	}
	sort.Strings(set.RevokedCAs)
	return set, nil
}

// ExternalCRL is a CRL made elsewhere (--crl FILE --ca FILE), added to
// the directory's.
type ExternalCRL struct{ CRLFile, CAFile string }

// addExternal adds a CRL made elsewhere, verified against the CA given
// with it; a CA whose CRL is already in the set is refused (two lists for
// one issuer would disagree).
func (set *RevocationSet) addExternal(x ExternalCRL, now time.Time, caSerials map[string]bool, nameOf func(*x509.Certificate) string, guard func(string, *crl.RevocationList, *x509.Certificate) error) (string, map[string]bool, error) {
	certs, err := dirview.ReadCerts(x.CAFile, pkix.Words("give the CA certificate that signed the CRL"))
	if err != nil {
		return "", nil, err
	}
	ca := certs[0]
	if len(ca.SubjectKeyId) == 0 {
		return "", nil, &pkix.Error{File: x.CAFile, Msg: "has no subject key identifier, which Cloudflare sends as certIssuerSKI to tell CAs apart"}
	}
	ski := strings.ToUpper(hex.EncodeToString(ca.SubjectKeyId))
	for _, c := range set.CRLs {
		if c.IssuerSKI == ski {
			return "", nil, &pkix.Error{File: x.CRLFile, Msg: "is a CRL of " + c.CA + ", whose CRL is already read from " + c.File, Hint: "give each CA's CRL once"}
		}
	}
	data, err := dirview.ReadFileAs(x.CRLFile, input.InputCRL, pkix.Text{})
	if err != nil {
		return "", nil, err
	}
	listed := map[string]bool{}
	rl, err := ReadEdgeCRL(x.CRLFile, data, ca, x.CAFile, now, func(e crl.RevokedEntry) {
		if s := hexUpper(e.Serial); caSerials[s] {
			listed[s] = true
		}
	})
	if err != nil {
		return "", nil, err
	}
	// One of the directory's CAs: never a list older than its own.
	if err := guard(x.CRLFile, rl, ca); err != nil {
		return "", nil, err
	}
	h := rl.CRLHeader
	name := nameOf(ca)
	src := CRLSource{CA: name, File: x.CRLFile, IssuerSKI: ski, Number: numberString(h.Number), ThisUpdate: h.ThisUpdate.UTC(), NextUpdate: h.NextUpdate.UTC(), Count: rl.Count}
	set.CRLs = append(set.CRLs, src)
	set.lists = append(set.lists, rl)
	set.Count += src.Count
	return name, listed, nil
}

// ReadEdgeCRL reads a CRL the edge is to enforce, streaming its entries
// to fn, and refuses one the edge must not take as the whole truth: one
// that does not verify, has no next update or is past it, or that the
// reader says is not a complete list (a delta or partitioned CRL, a
// critical extension nobody here understands).
//
// Its hints name 'crl build --all' (rebuildAll): the file may be any CA's
// of the directory, and a bare 'crl build' wants a serials file and
// builds the root's only.
func ReadEdgeCRL(file string, data []byte, ca *x509.Certificate, caFile string, now time.Time, fn func(crl.RevokedEntry)) (*crl.RevocationList, error) {
	rl, err := crl.ScanCRL(file, data, fn)
	if err != nil {
		return nil, err
	}
	if err := rl.VerifyBy(ca, caFile); err != nil {
		return nil, &pkix.Error{File: file, Msg: "does not verify against its CA: " + err.Error(),
			Hint: "give the CRL with the certificate of the CA that signed it (for a CA of this directory, " + rebuildAll + ")", HintArgs: rebuildAllArgs}
	}
	if err := rl.Usable(); err != nil {
		return nil, err
	}
	if rl.NextUpdate.IsZero() {
		return nil, &pkix.Error{File: file, Msg: "has no next update, so the edge cannot tell when its data is stale", Hint: rebuildAll, HintArgs: rebuildAllArgs}
	}
	if now.After(rl.NextUpdate) {
		return nil, &pkix.Error{File: file, Msg: "is past its next update (" + rl.NextUpdate.UTC().Format(time.RFC3339) + ")", Hint: rebuildAll + " first", HintArgs: rebuildAllArgs}
	}
	return rl, nil
}

func numberString(n *big.Int) string {
	if n == nil {
		return ""
	}
	return n.String()
}

// Publish writes generated files (a Worker and its data) as one
// transaction under the lock: each replaced whole, never a half-written
// script beside new data.
func (d *Ops) Publish(ctx context.Context, op string, files []atomicfile.File) (_ []atomicfile.Written, err error) {
	var made dirtx.CreatedDirs
	defer func() {
		if err != nil {
			made.Undo()
		}
	}()
	for _, f := range files {
		if err := made.MkdirAll(filepath.Dir(f.Path)); err != nil {
			return nil, d.IOError(filepath.Dir(f.Path), "cannot create", err)
		}
	}
	for i := range files {
		files[i].Replace = true
		if err := rewritable(files[i].Path); err != nil {
			return nil, err
		}
	}
	st, sess, end, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	written, errs, err := sess.Commit(dirtx.Change{Op: op, Sets: []dirtx.Set{{Staged: st.Files(files, false)}}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return nil, err
	}
	for i, w := range written[0] {
		if w.Stream != nil { // its size is known once written
			if info, err := os.Stat(w.Path); err == nil {
				written[0][i].Size = int(info.Size())
			}
		}
	}
	return written[0], nil
}

// WAFExpressionLimit is the longest expression a Cloudflare WAF custom
// rule takes.
const WAFExpressionLimit = 4096

// WAFRules are Cloudflare WAF custom-rule expressions (action: Block) that
// refuse what the set revokes, each at most WAFExpressionLimit long: one
// for the revoked CAs, then per issuer the revoked serials, paired with
// the issuer's key identifier since a serial alone is not unique. How the
// edge spells a serial whose first byte has its top bit set (with the
// DER's leading 00 or without) is not documented, so both are listed.
func WAFRules(set *RevocationSet, revoked []Revocation) []string {
	var rules []string
	verified := "cf.tls_client_auth.cert_verified"
	rules = appendSplit(rules, "("+verified+" and cf.tls_client_auth.cert_issuer_ski in {", "})", set.RevokedCAs)
	byIssuer := map[string][]string{}
	for _, r := range revoked {
		byIssuer[r.IssuerSKI] = append(byIssuer[r.IssuerSKI], r.Serial)
		if b, err := hex.DecodeString(evenHex(r.Serial)); err == nil && len(b) > 0 && b[0]&0x80 != 0 {
			byIssuer[r.IssuerSKI] = append(byIssuer[r.IssuerSKI], "00"+r.Serial)
		}
	}
	for _, ski := range sortedKeys(byIssuer) {
		rules = appendSplit(rules, "("+verified+" and cf.tls_client_auth.cert_issuer_ski eq \""+ski+"\" and cf.tls_client_auth.cert_serial in {", "})", byIssuer[ski])
	}
	return rules
}

// appendSplit adds head + quoted values + tail, as many expressions as the
// length limit needs.
func appendSplit(rules []string, head, tail string, values []string) []string {
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			rules = append(rules, head+b.String()+tail)
			b.Reset()
		}
	}
	for _, v := range values {
		q := `"` + v + `"`
		if b.Len() > 0 && len(head)+b.Len()+1+len(q)+len(tail) > WAFExpressionLimit {
			flush()
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(q)
	}
	flush()
	return rules
}
