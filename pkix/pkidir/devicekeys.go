package pkidir

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// checkDeviceKeys refuses a device's request whose key is already
// certified here: one key on two devices means one device can act as the
// other, and a revoked certificate's key must never be certified again.
// The certificate a --force renewal replaces may keep its key; a CA's key
// never becomes a client's.
func (d *Dir) checkDeviceKeys(req *IssueRequest) error {
	byKey := map[string]Job{}
	for _, j := range req.Jobs {
		if j.Device == nil {
			continue
		}
		k := j.Device.PublicKeySHA()
		if other, ok := byKey[k]; ok {
			return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("has the same key as %s", other.Device.File),
				Hint: "each device makes its own key; one key on two devices lets one act as the other"}
		}
		byKey[k] = j
	}
	if len(byKey) == 0 {
		return nil
	}
	cas := append([]*x509.Certificate{req.Signer.Issuer.Cert}, req.Signer.Above...)
	for _, c := range cas {
		sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
		if j, ok := byKey[hex.EncodeToString(sum[:])]; ok {
			return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is the key of the CA %q", c.Subject.CommonName),
				Hint: "a CA's key is never a client's: the CA's key must have left its machine; make a new key on the device"}
		}
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return err
	}
	// The key a --force renewal may keep is the one its name's valid
	// certificate has now (older records of that name may share it, from
	// renewals that kept it); a key a renewal retired stays retired.
	current := map[string]bool{}
	for _, r := range inv.Records {
		if j, ok := byKey[r.PublicKeySHA]; ok && req.Force && r.Name == j.Name && r.Status == pkix.StatusValid {
			current[r.Name] = true
		}
	}
	for _, r := range inv.Records {
		j, ok := byKey[r.PublicKeySHA]
		if !ok || r.PublicKeySHA == "" {
			continue
		}
		if r.Kind.IsCA() {
			return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is the key of the CA %s (CN %q)", r.Name, r.CN),
				Hint: "a CA's key is never a client's; make a new key on the device"}
		}
		if current[r.Name] && r.Name == j.Name && r.Status != pkix.StatusRevoked {
			continue // the certificate being renewed, keeping its key
		}
		return &pkix.Error{File: j.Device.File, Msg: fmt.Sprintf("the request's key is already certified: %s (CN %q, serial %s, %s)", r.Name, r.CN, r.Serial, r.Status),
			Hint: "one key, one device: make a new key on the device (a revoked certificate's key is never certified again); to renew that certificate with its key use 'mtlsctl client renew " + r.Name + " --request FILE'"}
	}
	return nil
}
