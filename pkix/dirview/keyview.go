package dirview

import (
	"crypto/x509"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// A key is compared by its identity (pkix.KeyIdentity: an RSA modulus,
// an EC point), not only by the hash of its SubjectPublicKeyInfo: the
// same RSA modulus with exponent 65539 is another SPKI, and whoever
// holds the factors signs for both.
type KeyOf struct{ identity, spki string }

func (k KeyOf) Same(o KeyOf) bool {
	return (k.identity != "" && k.identity == o.identity) || (k.spki != "" && k.spki == o.spki)
}

func DeviceKey(r *ca.DeviceRequest) KeyOf {
	return KeyOf{identity: r.KeyIdentity(), spki: r.PublicKeySHA()}
}

func CertKey(c *x509.Certificate) KeyOf {
	return KeyOf{identity: pemutil.CertKeyIdentity(c), spki: inventory.PublicKeySHA256(c)}
}

// RecordKey is a record's key; an inventory written before the key
// identity column has none, and it is read from the record's certificate
// file while that file still holds that certificate (else the SPKI hash
// alone is compared).
func (d *View) RecordKey(r *inventory.Record) KeyOf {
	k := KeyOf{identity: r.KeyIdentity, spki: r.PublicKeySHA}
	if k.identity != "" || r.Name == "" {
		return k
	}
	if certs, err := ReadCerts(d.Leaf(r.Name).Cert, pkix.Text{}); err == nil && x509text.SerialHex(certs[0].SerialNumber) == r.Serial {
		k.identity = pemutil.CertKeyIdentity(certs[0])
	}
	return k
}

// FillKeyIdentities gives every record of inv its key identity (see
// recordKey), so that one inventory read serves many comparisons.
func (d *View) FillKeyIdentities(inv *inventory.Inventory) {
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.KeyIdentity == "" {
			r.KeyIdentity = d.RecordKey(r).identity
		}
	}
}

// RecordKeyOf is a record's key as the inventory (filled in) has it.
func RecordKeyOf(r *inventory.Record) KeyOf {
	return KeyOf{identity: r.KeyIdentity, spki: r.PublicKeySHA}
}
