package inspect

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"math/big"
	"testing"
	"time"
)

// A DER certificate may end in a byte that looks like white space; it must
// not be trimmed away (about 1 certificate in 40).
func TestDERWithTrailingWhitespaceByte(t *testing.T) {
	for i := 0; i < 2000; i++ {
		c := derCert(t)
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

// derCert is a new self-signed CA certificate: its DER ends in a random
// byte, since the signature does.
func derCert(t *testing.T) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: x509pkix.Name{CommonName: "der"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
