package revocation

import (
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// RevocationFindings are the valid certificates of the inventory that a
// revocation already condemns: those under a revoked CA, at any depth,
// and those whose key is the key of a certificate revoked for
// keyCompromise.
// Each is one line for check, which exits 1 while any is left: they look
// valid in a list, and the edge refuses them.
func (d *Ops) RevocationFindings(inv *inventory.Inventory) []string {
	var out []string
	retired, err := d.RetiredKeys()
	if err != nil {
		return []string{err.Error()}
	}
	for _, u := range dirview.UnderRevokedCAs(inv, retired) {
		out = append(out, u.Message())
	}
	return append(out, d.CompromisedKeyStillValid(inv)...)
}
