package accesssim

import (
	"bytes"
	"slices"

	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"time"
)

// EphemeralServer makes a throwaway CA and a localhost server certificate
// signed by it, for a local server that needs TLS but has no certificate.
// The CA's PEM is returned so clients can trust it (curl --cacert); its key
// is never kept.
func EphemeralServer(hosts []string) (tls.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial := func() *big.Int {
		b := make([]byte, 16)
		rand.Read(b)
		return new(big.Int).SetBytes(b)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: x509pkix.Name{CommonName: "mtlsctl serve throwaway CA", Organization: []string{"mtlsctl local test"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(), Subject: x509pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(7 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			leaf.IPAddresses = append(leaf.IPAddresses, ip)
		} else {
			leaf.DNSNames = append(leaf.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, key.Public(), caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

// IsEphemeralServerCA reports whether data is exactly what EphemeralServer
// returns as its CA PEM: a single CERTIFICATE block and nothing else, a
// self-signed (signature checked) CA certificate with EphemeralServer's
// subject. Expiry does not matter: a week-old run's file is still serve's
// own. Any other certificate, even a self-signed CA, is not.
func IsEphemeralServerCA(data []byte) bool {
	trimmed := bytes.TrimSpace(data)
	if !bytes.HasPrefix(trimmed, []byte("-----BEGIN CERTIFICATE-----")) {
		return false
	}
	block, rest := pem.Decode(trimmed)
	if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 || len(bytes.TrimSpace(rest)) != 0 {
		return false
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return false
	}
	return cert.IsCA &&
		cert.Subject.CommonName == ephemeralCACommonName &&
		slices.Equal(cert.Subject.Organization, []string{ephemeralCAOrganization}) &&
		bytes.Equal(cert.RawSubject, cert.RawIssuer) &&
		cert.CheckSignatureFrom(cert) == nil
}

// The subject EphemeralServer gives its throwaway CA, by which serve knows
// its own DIR/serve-ca.pem.
const (
	ephemeralCACommonName   = "mtlsctl serve throwaway CA"
	ephemeralCAOrganization = "mtlsctl local test"
)
