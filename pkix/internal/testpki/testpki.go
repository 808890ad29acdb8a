// Package testpki makes the throwaway CAs and certificates that the core's
// tests share. It imports nothing of mtlsctl, so the tests of any core
// package can use it. Tests only: nothing outside a _test.go file imports
// it.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
)

// CA is a self-signed CA made by cfssl's initca, as `ca init` makes one.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a CA with the given key type ("ecdsa-256", "rsa-2048"…).
// Every CA it makes has the same subject, so two of them are the same
// name with different keys.
func NewCA(t testing.TB, keyType string) *CA {
	t.Helper()
	algo, size, ok := strings.Cut(keyType, "-")
	bits, err := strconv.Atoi(size)
	if !ok || err != nil {
		t.Fatalf("key type %q: want ALGO-SIZE", keyType)
	}
	ca, err := initCA(&csr.CertificateRequest{
		CN:         "mtlsctl test CA",
		Names:      []csr.Name{{O: "mtlsctl tests"}},
		KeyRequest: &csr.KeyRequest{A: algo, S: bits},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// SeedCA is a real CA certificate made by cfssl whose subject has a
// non-ASCII organisation and a '+' in its unit: a seed for fuzz targets.
func SeedCA() (*x509.Certificate, error) {
	ca, err := initCA(&csr.CertificateRequest{
		CN:         "Seed, Inc.",
		Names:      []csr.Name{{O: "Ünïcode", OU: "a+b"}},
		KeyRequest: &csr.KeyRequest{A: "ecdsa", S: 256},
	})
	if err != nil {
		return nil, err
	}
	return ca.Cert, nil
}

func initCA(req *csr.CertificateRequest) (*CA, error) {
	certPEM, _, keyPEM, err := initca.New(req)
	if err != nil {
		return nil, err
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	cert, err := helpers.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// SelfSigned is a PEM certificate with the given subject, signed by its
// own new P-256 key, valid for an hour either side of now.
func SelfSigned(t testing.TB, cn, org string, isCA bool) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: SelfSignedCert(t, cn, org, isCA).Raw})
}

// SelfSignedCert is SelfSigned's certificate, parsed. Its DER ends in a
// byte of the signature: random.
func SelfSignedCert(t testing.TB, cn, org string, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: cn, Organization: []string{org}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: isCA}
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
