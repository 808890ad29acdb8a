package pkidir

import (
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
)

// A journal's rekey step may only give a CA's own file its retired name:
// a journal edited by hand must not rename a key to a certificate's name,
// or anything to a name that is not a retired one.
func TestRetiredNameOf(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"intermediate.pem", "intermediate.retired-0A1B2C3D.pem", true},
		{"intermediate-key.pem", "intermediate.retired-0A1B2C3D-key.pem", true},
		{"intermediate.crl", "intermediate.retired-0A1B2C3D.crl", true},
		{"serials.txt", "ca.retired-0A1B2C3D-serials.txt", true},
		{"intermediate-key.pem", "intermediate.retired-0A1B2C3D.pem", false}, // a key under a certificate's name
		{"intermediate.pem", "intermediate.retired-0A1B2C3D-key.pem", false},
		{"intermediate.pem", "intermediate.pem.bak", false},
		{"inventory.tsv", "inventory.retired-0A1B2C3D.tsv", false},
	} {
		if got := dirtx.RetiredNameOf(tc.from, tc.to); got != tc.want {
			t.Errorf("retiredNameOf(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}
