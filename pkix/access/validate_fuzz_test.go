package access

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// What a certificate is judged does not depend on how it was pasted: the
// certificates a report found, pasted again as a clean PEM bundle in the
// same order, get the same checks each, the same chain verdict and the same
// hostname checks, and the paste itself passes.
func FuzzValidateUpload(f *testing.F) {
	ca := testpki.NewCA(f, "ecdsa-256")
	seed, err := testpki.SeedCA()
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: x509pkix.Name{CommonName: "Seed Intermediate"},
		NotBefore: ca.Cert.NotBefore, NotAfter: ca.Cert.NotAfter, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		f.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(der)
	f.Add(OrderedPEM([]*x509.Certificate{seed}))
	f.Add(seed.Raw) // DER
	f.Add(OrderedPEM([]*x509.Certificate{inter, ca.Cert}))
	f.Add(OrderedPEM([]*x509.Certificate{ca.Cert, inter})) // out of order
	f.Add(append(OrderedPEM([]*x509.Certificate{ca.Cert}), "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := ValidationOptions{Hostnames: []string{"a.example"}, Now: time.Now()}
		r, err := ValidateUpload("f.pem", data, opts)
		if err != nil || len(r.Certificates) == 0 {
			return
		}
		clean, err := ValidateUpload("f.pem", OrderedPEM(r.Chain()), opts)
		if err != nil {
			t.Fatalf("the report's own certificates, as PEM, are unreadable: %v", err)
		}
		for i := range r.Certificates {
			if !reflect.DeepEqual(r.Certificates[i].Checks, clean.Certificates[i].Checks) {
				t.Fatalf("certificate %d: %+v as pasted, %+v as clean PEM", i+1, r.Certificates[i].Checks, clean.Certificates[i].Checks)
			}
		}
		if got, want := withoutRule(clean.Bundle, "content"), withoutRule(r.Bundle, "content"); !reflect.DeepEqual(got, want) {
			t.Fatalf("chain checks %+v as pasted, %+v as clean PEM", want, got)
		}
		if content := clean.Bundle[0]; content.Rule != "content" || content.Status != Pass {
			t.Fatalf("a clean PEM bundle's content check: %+v", content)
		}
		if !reflect.DeepEqual(r.Hostnames, clean.Hostnames) {
			t.Fatalf("hostname checks changed: %+v, %+v", r.Hostnames, clean.Hostnames)
		}
	})
}

func withoutRule(checks []Check, rule string) []Check {
	var out []Check
	for _, c := range checks {
		if c.Rule != rule {
			out = append(out, c)
		}
	}
	return out
}
