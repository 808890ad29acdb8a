package pkidir

import (
	"crypto/x509"
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

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
			if dirview.DeviceKey(other.Device).Same(dirview.DeviceKey(j.Device)) {
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
	d.FillKeyIdentities(inv)
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
	key := dirview.DeviceKey(j.Device)
	cas := append([]*x509.Certificate{req.Signer.Issuer.Cert}, req.Signer.Above...)
	for _, c := range cas {
		if dirview.CertKey(c).Same(key) {
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
		if req.Force && r.Name == j.Name && r.Status == inventory.StatusValid && r.Kind == inventory.KindClient && dirview.RecordKeyOf(r).Same(key) {
			current = true
		}
	}
	for i := range inv.Records {
		r := &inv.Records[i]
		if !dirview.RecordKeyOf(r).Same(key) {
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
	d.FillKeyIdentities(inv)
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
