package inspect

import (
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// A DER certificate may end in a byte that looks like white space; it must
// not be trimmed away (about 1 certificate in 40).
func TestDERWithTrailingWhitespaceByte(t *testing.T) {
	for i := 0; i < 2000; i++ {
		c := testpki.SelfSignedCert(t, "der", "", true)
		last := c.Raw[len(c.Raw)-1]
		if last != ' ' && (last < '\t' || last > '\r') {
			continue
		}
		r, err := access.ValidateUpload("ca.der", c.Raw, access.ValidationOptions{})
		if err != nil {
			t.Fatalf("DER ending in 0x%02x: %v", last, err)
		}
		if len(r.Certificates) != 1 {
			t.Fatalf("DER ending in 0x%02x: %d certificates", last, len(r.Certificates))
		}
		if _, err := Inspect("ca.der", c.Raw, time.Now(), ""); err != nil {
			t.Fatalf("inspect, DER ending in 0x%02x: %v", last, err)
		}
		return
	}
	t.Skip("no certificate ending in a white-space byte in 2000 tries")
}
