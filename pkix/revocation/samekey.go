package revocation

import (
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// sameKeyValid are the valid certificates, other than targets, whose key
// is the key of one of targets (compared as keyOf.same: an RSA modulus,
// an EC point). A keyCompromise revocation of one of them leaves the
// others usable by whoever has the key. A root is left out: it cannot be
// revoked here, and check names it.
func (d *Ops) sameKeyValid(targets []inventory.Record) ([]inventory.Record, error) {
	if len(targets) == 0 {
		return nil, nil
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, err
	}
	d.FillKeyIdentities(inv)
	var keys []dirview.KeyOf
	skip := map[string]bool{}
	for i := range targets {
		keys = append(keys, d.RecordKey(&targets[i]))
		skip[targets[i].Serial] = true
	}
	var out []inventory.Record
	for _, r := range inv.Records {
		if r.Status != inventory.StatusValid || r.Kind == inventory.KindRoot || skip[r.Serial] {
			continue
		}
		for _, k := range keys {
			if dirview.RecordKeyOf(&r).Same(k) {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// sameKeyMessage says that a certificate keeps a compromised key valid.
func sameKeyMessage(r, compromised *inventory.Record) string {
	return pkix.Textf("%s has the key of %s (serial %s), revoked for keyCompromise: whoever has that key can still use it; revoke it too ('%s', or %s)",
		inventory.FormatRecord(r), compromised.Name, compromised.Serial, pkix.Cmd(pkix.ActRevokeClient, pkix.OptSerial.With(r.Serial), pkix.OptReason.With("keyCompromise")), pkix.OptAllWithKey).String()
}

// CompromisedKeyStillValid lists the valid certificates whose key is the
// key of a certificate revoked for keyCompromise, one line each.
func (d *Ops) CompromisedKeyStillValid(inv *inventory.Inventory) []string {
	var compromised []*inventory.Record
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.Status == inventory.StatusRevoked && r.Reason == crl.ReasonKeyCompromise.String() {
			compromised = append(compromised, r)
		}
	}
	if len(compromised) == 0 {
		return nil // no file read for a directory without such a revocation
	}
	d.FillKeyIdentities(inv)
	byIdentity, bySPKI := map[string]*inventory.Record{}, map[string]*inventory.Record{}
	for _, c := range compromised {
		if c.KeyIdentity != "" {
			byIdentity[c.KeyIdentity] = c
		}
		if c.PublicKeySHA != "" {
			bySPKI[c.PublicKeySHA] = c
		}
	}
	var out []string
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.Status != inventory.StatusValid {
			continue
		}
		var c *inventory.Record
		if r.KeyIdentity != "" {
			c = byIdentity[r.KeyIdentity]
		}
		if c == nil && r.PublicKeySHA != "" {
			c = bySPKI[r.PublicKeySHA]
		}
		if c != nil {
			out = append(out, sameKeyMessage(r, c))
		}
	}
	return out
}

// withSameKey: a keyCompromise revocation names every other valid
// certificate of the same key, or with AllWithKey adds them to the
// targets, so that they are revoked in the same transaction.
func (d *Ops) withSameKey(req *RevokeRequest, targets []inventory.Record, res *RevokeResult) ([]inventory.Record, error) {
	if req.Reason != crl.ReasonKeyCompromise {
		if req.AllWithKey {
			return nil, &pkix.Error{Msg: pkix.Textf("%s revokes the other certificates of a compromised key", pkix.OptAllWithKey).String(), Hint: "add %s", HintArgs: []any{pkix.OptReason.With("keyCompromise")}}
		}
		return targets, nil
	}
	others, err := d.sameKeyValid(targets)
	if err != nil {
		return nil, err
	}
	for i := range others {
		o := &others[i]
		of := &targets[0]
		for k := range targets {
			if d.RecordKey(&targets[k]).Same(dirview.RecordKeyOf(o)) {
				of = &targets[k]
				break
			}
		}
		if req.AllWithKey {
			res.Notes = append(res.Notes, pkix.Textf("%s has the same key as %s: revoked with it (%s)", inventory.FormatRecord(o), of.Name, pkix.OptAllWithKey).String())
			targets = append(targets, *o)
			continue
		}
		res.Warnings = append(res.Warnings, sameKeyMessage(o, of))
	}
	return targets, nil
}
