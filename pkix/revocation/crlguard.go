package revocation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// A CRL given from outside (--crl FILE --ca FILE, serve --crl) for a CA
// this directory holds must never take the edge backwards: an old copy
// of ca.crl restored from git, or a CRL from before a revocation, would
// let a revoked device in while every command exits 0. GuardCRL is the
// one comparison every reader of the revocation set makes.

// ErrCRLBackwards marks a CRL refused because it is older than, or
// lists less than, what the directory knows of its CA.
var ErrCRLBackwards = errors.New("CRL behind the directory")

// rebuildAll ends the guard's hints. The CA may be the root, an
// intermediate or a retired key: a bare 'crl build' needs a serials file
// and builds the root's list only, so it failed when pasted or built the
// wrong CA's; --all builds each CA's from its own serials file.
const rebuildAll = "rebuild it with '%s'"

var rebuildAllArgs = []any{pkix.Cmd(pkix.ActBuildCRL, pkix.OptAll)}

// GuardCRL refuses rl (read from file, verified against ca) when ca is a
// CA of this directory (its current key or a retired one) and rl is
// behind what the directory knows: its CRL Number is lower than that of
// the directory's CRL for the CA, or equal with different content; or it
// leaves out a serial the inventory records as revoked by that CA (a
// lifted certificateHold is valid again, so a newer CRL may drop it). A
// CRL of a CA the directory does not hold is not the directory's to
// judge: nil.
func (d *Ops) GuardCRL(file string, rl *crl.RevocationList, ca *x509.Certificate) error {
	name, ok := d.caNamed(ca)
	if !ok {
		return nil
	}
	own := d.CA(name).CRL
	if err := compareWithOwn(file, rl, own); err != nil {
		return err
	}
	revoked, err := d.revokedBy(name)
	if err != nil {
		return err
	}
	if len(revoked) == 0 {
		return nil
	}
	err = rl.EachRevokedEntry(bytes.NewReader(rl.DER), func(e crl.RevokedEntry) { delete(revoked, hexUpper(e.Serial)) })
	if err != nil {
		return &pkix.Error{File: file, Msg: "cannot read the CRL's serials: " + err.Error(), Err: err}
	}
	if len(revoked) > 0 {
		missing := sortedKeys(revoked)
		msg := fmt.Sprintf("leaves out %d certificate%s that %s records as revoked by %s: %s", len(missing), dirtx.Plural(len(missing)), d.Inventory(), name,
			strings.Join(missing[:min(len(missing), 5)], ", "))
		if len(missing) > 5 {
			msg += fmt.Sprintf(" and %d more", len(missing)-5)
		}
		return &pkix.Error{File: file, Msg: msg, Err: ErrCRLBackwards,
			Hint: "it is older than the revocations: use %s, or " + rebuildAll, HintArgs: append([]any{own}, rebuildAllArgs...)}
	}
	return nil
}

// compareWithOwn refuses a CRL whose number is below that of the
// directory's CRL of the same CA (own), or equal to it with other content:
// two different lists under one number leave the edge to guess which.
func compareWithOwn(file string, rl *crl.RevocationList, own string) error {
	h, err := readCRLHeaderFile(own)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && h.Number == nil) {
		return nil // nothing to compare with: the inventory check still runs
	} else if err != nil {
		return &pkix.Error{File: own, Msg: "cannot be read to compare with " + file + ": " + dirtx.Unwrap(err).Error(), Err: err}
	}
	switch {
	case rl.Number == nil || rl.Number.Cmp(h.Number) < 0:
		return &pkix.Error{File: file, Msg: fmt.Sprintf("CRL Number %s is lower than that of %s (%s): an older list would un-revoke what was revoked since", numberOr(rl), own, h.Number),
			Err: ErrCRLBackwards, Hint: "use %s (or a copy of it), or " + rebuildAll, HintArgs: append([]any{own}, rebuildAllArgs...)}
	case rl.Number.Cmp(h.Number) == 0:
		data, _, err := input.ReadRegular(own, input.InputCRL)
		if err != nil {
			return &pkix.Error{File: own, Msg: "cannot be read to compare with " + file + ": " + dirtx.Unwrap(err).Error(), Err: err}
		}
		mine, err := crl.ScanCRL(own, data, nil)
		if err != nil {
			return err
		}
		if !bytes.Equal(mine.DER, rl.DER) {
			return &pkix.Error{File: file, Msg: fmt.Sprintf("has CRL Number %s, as %s does, but different content: one number, two lists", h.Number, own),
				Err: ErrCRLBackwards, Hint: "use %s, or " + rebuildAll, HintArgs: append([]any{own}, rebuildAllArgs...)}
		}
	}
	return nil
}

func numberOr(rl *crl.RevocationList) string {
	if rl.Number == nil {
		return "(none)"
	}
	return rl.Number.String()
}

// caNamed is the directory's name for ca: a CA the inventory records
// (current, with its certificate here) or a retired key, compared as
// the edge tells CAs apart: by subject and key.
func (d *Ops) caNamed(ca *x509.Certificate) (string, bool) {
	for _, name := range d.caNames() {
		if certs, err := dirview.ReadCerts(d.CA(name).Cert, pkix.Text{}); err == nil && chain.SameCA(certs[0], ca) {
			return d.CA(name).Name, true
		}
	}
	return "", false
}

// caNames are the names of the directory's CAs: the root, the
// intermediates the inventory records, the retired keys.
func (d *Ops) caNames() []string {
	names := []string{dirview.RootName}
	seen := map[string]bool{dirview.RootName: true}
	if inv, err := d.ReadInventory(); err == nil {
		for _, r := range inv.Records {
			if r.Kind == inventory.KindIntermediate && !seen[r.Name] {
				seen[r.Name] = true
				names = append(names, r.Name)
			}
		}
	}
	if keys, err := d.RetiredKeys(); err == nil {
		for _, k := range keys {
			names = append(names, k.Name)
		}
	}
	return names
}

// revokedBy is the set of serials the inventory records as revoked by
// the CA (or retired key) called name, in their latest state.
func (d *Ops) revokedBy(name string) (map[string]bool, error) {
	sc, err := d.scan("", nil)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for s := range sc.revoked[name] {
		out[s] = true
	}
	return out, nil
}

// GuardGivenCRL is GuardCRL for a CRL given without its CA (check
// --crl): its CA is the directory's CA (current or retired key) whose
// key verifies it. A CRL no CA here signed is not the directory's to
// judge: nil. Without this, check passed a CRL that worker build and crl
// export refuse for leaving out what the inventory revoked.
func (d *Ops) GuardGivenCRL(file string, rl *crl.RevocationList) error {
	for _, name := range d.caNames() {
		certs, err := dirview.ReadCerts(d.CA(name).Cert, pkix.Text{})
		if err != nil {
			continue
		}
		if rl.VerifyBy(certs[0], d.CA(name).Cert) == nil {
			return d.GuardCRL(file, rl, certs[0])
		}
	}
	return nil
}
