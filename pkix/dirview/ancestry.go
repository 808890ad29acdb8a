package dirview

import (
	"crypto/x509"
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// maxChainDepth bounds a walk up the CAs: a chain longer than this is a
// loop in hand-edited records, not a PKI.
const maxChainDepth = 16

// revokedInChain walks from a CA certificate up to its root and returns
// the record of the first certificate on the way that the inventory marks
// revoked (the CA itself included). Every certificate issued under a
// revoked CA, at any depth, is refused wherever its chain is checked
// against the CRLs: issuing one is handing out a certificate dead on
// arrival. Each parent is found among the certificates given above it
// and the directory's file of the CA its record names as issuer, and is
// taken only if it signed the child (a re-keyed CA's new file is not the
// parent of what its old key issued).
func (d *View) revokedInChain(cert *x509.Certificate, above []*x509.Certificate) (*inventory.Record, error) {
	cur := cert
	for range maxChainDepth {
		if chain.IsSelfSigned(cur) {
			return nil, nil // a root is never revoked by its own CRL
		}
		r, err := d.FindSerial(x509text.SerialHex(cur.SerialNumber))
		if err != nil {
			return nil, err
		}
		if r != nil && r.SHA256 != x509text.FingerprintSHA256(cur) {
			r = nil // another certificate with that serial: not this one's record
		}
		if r != nil && r.Status == inventory.StatusRevoked {
			return r, nil
		}
		candidates := above
		if r != nil {
			if certs, err := ReadCerts(d.CA(r.Issuer).Cert, pkix.Text{}); err == nil {
				candidates = append([]*x509.Certificate{certs[0]}, above...)
			}
		}
		var parent *x509.Certificate
		for _, c := range candidates {
			if cur.CheckSignatureFrom(c) == nil {
				parent = c
				break
			}
		}
		if parent == nil {
			return nil, nil // the chain leaves what this directory knows
		}
		cur = parent
	}
	return nil, nil
}

// revokedSignerError is the refusal of a CA that may not sign: revoked
// itself, or under a revoked CA.
func revokedSignerError(file string, cert *x509.Certificate, r *inventory.Record) error {
	when := r.RevokedAt.Format("2006-01-02")
	if r.Reason != "" {
		when += ", " + r.Reason
	}
	if r.SHA256 == x509text.FingerprintSHA256(cert) {
		return &pkix.Error{File: file, Msg: "this CA was revoked on " + when, Hint: "issue from another CA"}
	}
	return &pkix.Error{File: file, Msg: fmt.Sprintf("this CA is under the CA %s (CN %q, serial %s), revoked on %s: whatever it issues is refused wherever its chain is checked", r.Name, r.CN, r.Serial, when),
		Hint: "issue from a CA outside the revoked branch (a new intermediate under the root: %s)", HintArgs: []any{pkix.ActMakeIntermediate}}
}

// UnderRevoked is a valid certificate whose issuing chain holds a CA the
// inventory marks revoked: the edge refuses it, so it only looks valid.
type UnderRevoked struct {
	Record   inventory.Record
	Ancestor inventory.Record
}

// Message is the one line check prints.
func (u UnderRevoked) Message() string {
	return fmt.Sprintf("%s is under the revoked CA %s (CN %q, serial %s, revoked on %s): it is refused wherever its chain is checked; re-issue it from a CA outside that branch",
		inventory.FormatRecord(&u.Record), u.Ancestor.Name, u.Ancestor.CN, u.Ancestor.Serial, u.Ancestor.RevokedAt.Format("2006-01-02"))
}

// UnderRevokedCAs lists the valid certificates of the inventory that a
// revoked CA is above, at any depth, naming the nearest revoked one. The
// issuer of a record is the CA record of that name that existed when it
// was issued (the latest issued no later than it): a CA revoked and then
// made again under the same name does not clear what the revoked one
// issued.
//
// A re-keyed CA's manifests (retired) say exactly which key signed what:
// a certificate a retired key issued has that key's record as issuer, and
// any other the record of the name's current key. Dates decide only where
// no manifest does (a CA re-made before keys were retired): cfssl may
// backdate a certificate, so they cannot tell two keys of one name apart
// within minutes.
func UnderRevokedCAs(inv *inventory.Inventory, retired []RetiredKey) []UnderRevoked {
	byName := map[string][]*inventory.Record{}
	bySerial := map[string]*inventory.Record{}
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.Kind.IsCA() {
			byName[r.Name] = append(byName[r.Name], r)
			bySerial[r.Serial] = r
		}
	}
	signedBy := map[string]string{} // serial -> serial of the retired CA certificate that signed it
	retiredCA := map[string]bool{}  // serials of retired CA certificates
	for _, k := range retired {
		retiredCA[k.CASerial] = true
		for _, s := range k.Serials {
			signedBy[s] = k.CASerial
		}
	}
	issuerOf := func(r *inventory.Record) *inventory.Record {
		if s, ok := signedBy[r.Serial]; ok && bySerial[s] != nil {
			return bySerial[s]
		}
		var best *inventory.Record
		for _, ca := range byName[r.Issuer] {
			if retiredCA[ca.Serial] {
				continue // issued only what its manifest lists
			}
			if ca.Serial != r.Serial && !ca.NotBefore.After(r.NotBefore) && (best == nil || !ca.NotBefore.Before(best.NotBefore)) {
				best = ca
			}
		}
		if best == nil && len(byName[r.Issuer]) > 0 {
			// Dates that do not order (a clock set back): the CA of that
			// name recorded last.
			best = byName[r.Issuer][len(byName[r.Issuer])-1]
		}
		return best
	}
	var out []UnderRevoked
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.Status != inventory.StatusValid || r.Kind == inventory.KindRoot || IsExternal(r.Issuer) {
			continue
		}
		cur := r
		for range maxChainDepth {
			ca := issuerOf(cur)
			if ca == nil || ca.Kind == inventory.KindRoot {
				break
			}
			if ca.Status == inventory.StatusRevoked {
				out = append(out, UnderRevoked{Record: *r, Ancestor: *ca})
				break
			}
			cur = ca
		}
	}
	return out
}
