package pkidir

import (
	"crypto/x509"
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// A key is compared by its identity (pkix.KeyIdentity: an RSA modulus,
// an EC point), not only by the hash of its SubjectPublicKeyInfo: the
// same RSA modulus with exponent 65539 is another SPKI, and whoever
// holds the factors signs for both.
type keyOf struct{ identity, spki string }

func (k keyOf) same(o keyOf) bool {
	return (k.identity != "" && k.identity == o.identity) || (k.spki != "" && k.spki == o.spki)
}

func deviceKey(r *ca.DeviceRequest) keyOf {
	return keyOf{identity: r.KeyIdentity(), spki: r.PublicKeySHA()}
}

func certKey(c *x509.Certificate) keyOf {
	return keyOf{identity: pemutil.CertKeyIdentity(c), spki: inventory.PublicKeySHA256(c)}
}

// recordKey is a record's key; an inventory written before the key
// identity column has none, and it is read from the record's certificate
// file while that file still holds that certificate (else the SPKI hash
// alone is compared).
func (d *Dir) recordKey(r *inventory.Record) keyOf {
	k := keyOf{identity: r.KeyIdentity, spki: r.PublicKeySHA}
	if k.identity != "" || r.Name == "" {
		return k
	}
	if certs, err := readCerts(d.Leaf(r.Name).Cert, pkix.Text{}); err == nil && x509text.SerialHex(certs[0].SerialNumber) == r.Serial {
		k.identity = pemutil.CertKeyIdentity(certs[0])
	}
	return k
}

// fillKeyIdentities gives every record of inv its key identity (see
// recordKey), so that one inventory read serves many comparisons.
func (d *Dir) fillKeyIdentities(inv *inventory.Inventory) {
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.KeyIdentity == "" {
			r.KeyIdentity = d.recordKey(r).identity
		}
	}
}

// checkDeviceKeys refuses a device's request whose key is already
// certified here: one key on two devices means one device can act as the
// other, and a revoked certificate's key must never be certified again.
// The certificate a --force renewal replaces may keep its key; a CA's key
// never becomes a client's. Issue runs it before signing (a refusal
// costs nothing) and again per job under the lock (deviceKeyConflict),
// where two runs signing the same key cannot both pass.
func (d *Dir) checkDeviceKeys(req *IssueRequest) error {
	var seen []Job
	for _, j := range req.Jobs {
		if j.Device == nil {
			continue
		}
		for _, other := range seen {
			if deviceKey(other.Device).same(deviceKey(j.Device)) {
				return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("has the same key as %s", other.Device.File),
					Hint: "each device makes its own key; one key on two devices lets one act as the other"}
			}
		}
		seen = append(seen, j)
	}
	if len(seen) == 0 {
		return nil
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return err
	}
	d.fillKeyIdentities(inv)
	for _, j := range seen {
		if err := d.deviceKeyConflict(req, j, inv); err != nil {
			return err
		}
	}
	return nil
}

// deviceKeyConflict is checkDeviceKeys for one job against an inventory
// whose key identities are filled in.
func (d *Dir) deviceKeyConflict(req *IssueRequest, j Job, inv *inventory.Inventory) error {
	if j.Device == nil {
		return nil
	}
	key := deviceKey(j.Device)
	cas := append([]*x509.Certificate{req.Signer.Issuer.Cert}, req.Signer.Above...)
	for _, c := range cas {
		if certKey(c).same(key) {
			return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is the key of the CA %q", c.Subject.CommonName),
				Hint: "a CA's key is never a client's: the CA's key must have left its machine; make a new key on the device"}
		}
	}
	// The key a --force renewal may keep is the one its name's valid
	// certificate has now (older records of that name may share it, from
	// renewals that kept it); a key a renewal retired stays retired.
	current := false
	for i := range inv.Records {
		r := &inv.Records[i]
		if req.Force && r.Name == j.Name && r.Status == inventory.StatusValid && r.Kind == inventory.KindClient && recordKeyOf(r).same(key) {
			current = true
		}
	}
	for i := range inv.Records {
		r := &inv.Records[i]
		if !recordKeyOf(r).same(key) {
			continue
		}
		if r.Kind.IsCA() {
			return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is the key of the CA %s (CN %q)", r.Name, r.CN),
				Hint: "a CA's key is never a client's; make a new key on the device"}
		}
		if current && r.Name == j.Name && r.Status != inventory.StatusRevoked {
			continue // the certificate being renewed, keeping its key
		}
		hint := pkix.Textf("one key, one device: make a new key on the device; to renew that certificate with its key use '%s'", pkix.Cmd(pkix.ActRenewClient, r.Name, pkix.OptRequest.With("FILE")))
		switch {
		case r.Status == inventory.StatusRevoked && !req.Force:
			hint = pkix.Words("a revoked certificate's key is never certified again: make a new key on the device")
		case r.Status == inventory.StatusRevoked:
			// A renewal (Force): renewing with this key is what was just
			// refused, whatever the request; only a new key is certified.
			hint = pkix.Textf("a revoked certificate's key is never certified again: renew with a new key, '%s' (without %s), or with a request for a new key made on the device (%s)",
				pkix.Cmd(pkix.ActRenewClient, j.Name), pkix.OptReuseKey, pkix.OptRequest.With("FILE"))
		}
		return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is already certified: %s (CN %q, serial %s, %s)", r.Name, r.CN, r.Serial, r.Status),
			Hint: hint.Format, HintArgs: hint.Args}
	}
	return nil
}

// recordKeyOf is a record's key as the inventory (filled in) has it.
func recordKeyOf(r *inventory.Record) keyOf {
	return keyOf{identity: r.KeyIdentity, spki: r.PublicKeySHA}
}

// recheckDeviceKeys repeats the key check under the lock, on the
// inventory as it is now: two runs given requests for one key both pass
// the check before signing, and only the first to commit may keep its
// certificate. A job refused here is dropped (its staged files
// discarded) and reported as failed; the others go on.
func (d *Dir) recheckDeviceKeys(req *IssueRequest, sets []dirtx.Set, setJob []int, res *IssueResult) ([]dirtx.Set, []int, error) {
	devices := false
	for _, i := range setJob {
		devices = devices || req.Jobs[i].Device != nil
	}
	if !devices {
		return sets, setJob, nil
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return nil, nil, err
	}
	d.fillKeyIdentities(inv)
	kept, keptJob := sets[:0], setJob[:0]
	for k, i := range setJob {
		j := req.Jobs[i]
		if err := d.deviceKeyConflict(req, j, inv); err != nil {
			sets[k].Staged.Discard()
			res.Failed = append(res.Failed, Failure{CN: j.CN, Name: j.Name, Error: err.Error(), err: err})
			continue
		}
		kept, keptJob = append(kept, sets[k]), append(keptJob, i)
	}
	return kept, keptJob, nil
}
