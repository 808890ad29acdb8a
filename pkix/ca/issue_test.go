package ca

import (
	"crypto/x509"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"strings"
	"testing"
	"time"
)

func TestIssueClientCertificate(t *testing.T) {
	ca := newTestCA(t, "ecdsa-384")
	req, err := cfsslconf.LoadRequest("client-csr.json", []byte(`{"CN": "James Royal", "hosts": [""], "key": {"algo": "ecdsa", "size": 256}}`), cfsslconf.ClientRequest)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Notes) != 1 || !strings.Contains(req.Notes[0], "dropped 1 empty entry") {
		t.Errorf("notes = %q, want a note about the dropped empty host", req.Notes)
	}
	got, warnings, err := ca.Issue(req, "client")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings %q", warnings)
	}
	c := got.Cert
	if c.Subject.CommonName != "James Royal" || c.IsCA {
		t.Errorf("subject %q IsCA %v", c.Subject, c.IsCA)
	}
	if len(c.DNSNames)+len(c.IPAddresses)+len(c.EmailAddresses)+len(c.URIs) != 0 {
		t.Errorf("unexpected SANs: %v %v %v %v", c.DNSNames, c.IPAddresses, c.EmailAddresses, c.URIs)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("EKU %v, want clientAuth only", c.ExtKeyUsage)
	}
	// The signature follows the issuing CA's key (P-384), not the leaf's.
	if c.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("signature %v, want ECDSA-SHA384", c.SignatureAlgorithm)
	}
	if err := c.CheckSignatureFrom(ca.Cert); err != nil {
		t.Errorf("not signed by the CA: %v", err)
	}
	if c.SerialNumber.BitLen() < 128 {
		t.Errorf("serial %x has only %d bits", c.SerialNumber, c.SerialNumber.BitLen())
	}
	key, err := pemutil.ParseKeyPEM("client-key.pem", got.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pemutil.KeyMatches(c, key) {
		t.Error("written key does not match the certificate")
	}
	if !strings.HasPrefix(string(got.KeyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Error("key is not PKCS#8")
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < 8760*time.Hour || life > 8761*time.Hour {
		t.Errorf("lifetime %v, want the profile's 8760h (plus backdate)", life)
	}
}

func TestIssueCutsLifetimeAtCAExpiry(t *testing.T) {
	req, _ := cfsslconf.LoadRequest("ca-csr.json", []byte(`{"CN": "Short CA", "key": {"algo": "ecdsa", "size": 256}}`), cfsslconf.CARequest)
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(cfsslconf.DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	ca, warnings, err := InitCA(req, 30*24*time.Hour, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "longer than the CA's lifetime") {
		t.Errorf("InitCA warnings %q, want one about profiles outliving the CA", warnings)
	}
	key, _ := pemutil.ParseKeyPEM("ca-key.pem", ca.KeyPEM)
	is, err := NewIssuer("ca.pem", ca.Cert, "ca-key.pem", key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	got, warnings, err := is.Issue(clientRequest(t, "x", "ecdsa-256"), "client")
	if err != nil {
		t.Fatal(err)
	}
	if !got.Cert.NotAfter.Equal(ca.Cert.NotAfter) {
		t.Errorf("client NotAfter %v, want the CA's %v", got.Cert.NotAfter, ca.Cert.NotAfter)
	}
	if len(warnings) != 1 {
		t.Errorf("Issue warnings %q, want one", warnings)
	}
}

func TestIssueRefusesUnknownProfile(t *testing.T) {
	ca := newTestCA(t, "ecdsa-256")
	_, _, err := ca.Issue(clientRequest(t, "x", "ecdsa-256"), "clinet")
	if err == nil {
		t.Fatal("an unknown profile must not fall back to default")
	}
	if h := pkix.HintOf(err).Format; !strings.Contains(h, `did you mean "client"`) {
		t.Errorf("hint %q", h)
	}
}

func TestNewIssuerRefusesMismatchedKey(t *testing.T) {
	a := newTestCA(t, "ecdsa-256")
	b := newTestCA(t, "ecdsa-256")
	if _, err := NewIssuer("ca.pem", a.Cert, "other-key.pem", b.Key, a.Config); err == nil ||
		!strings.Contains(err.Error(), "other-key.pem: this key does not belong") {
		t.Errorf("err = %v", err)
	}
}

func TestCASignatureAlgorithmFollowsKey(t *testing.T) {
	for keyType, want := range map[string]x509.SignatureAlgorithm{
		"ecdsa-256": x509.ECDSAWithSHA256,
		"ecdsa-384": x509.ECDSAWithSHA384,
		"rsa-2048":  x509.SHA256WithRSA,
	} {
		ca := newTestCA(t, keyType)
		if ca.Cert.SignatureAlgorithm != want {
			t.Errorf("%s CA signs %v, want %v", keyType, ca.Cert.SignatureAlgorithm, want)
		}
		if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 || ca.Cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
			t.Errorf("%s CA: IsCA %v usage %v", keyType, ca.Cert.IsCA, ca.Cert.KeyUsage)
		}
	}
}

func BenchmarkIssueClient(b *testing.B) {
	for _, tc := range []struct{ caKey, clientKey string }{
		{"ecdsa-256", "ecdsa-256"},
		{"rsa-4096", "rsa-4096"},
	} {
		b.Run("ca="+tc.caKey+"/client="+tc.clientKey, func(b *testing.B) {
			ca := newTestCA(b, tc.caKey)
			req := clientRequest(b, "bench", tc.clientKey)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := ca.Issue(req, "client"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
