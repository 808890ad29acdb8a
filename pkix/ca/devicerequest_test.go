package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"net"
	"strings"
	"testing"
)

// greedyRequest asks for everything a client certificate must not have:
// CA:TRUE, keyCertSign, serverAuth, names.
func greedyRequest(t *testing.T, cn string) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bc, _ := asn1.Marshal(struct {
		IsCA bool `asn1:"optional"`
	}{true})
	ku, _ := asn1.Marshal(asn1.BitString{Bytes: []byte{0x06}, BitLength: 7}) // keyCertSign, cRLSign
	eku, _ := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 1}})
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: cn, Organization: []string{"Devices"}},
		DNSNames:    []string{"evil.example.com"},
		IPAddresses: []net.IP{net.ParseIP("10.0.0.1")},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{2, 5, 29, 19}, Critical: true, Value: bc},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: true, Value: ku},
			{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Value: eku},
		},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func TestSignRequestTakesOnlySubjectAndKey(t *testing.T) {
	is := newTestCA(t, "ecdsa-256")
	r, err := ParseDeviceRequest("greedy.csr", greedyRequest(t, "device-7"))
	if err != nil {
		t.Fatal(err)
	}
	issued, _, err := is.SignRequest(r, "", cfsslconf.ClientProfile)
	if err != nil {
		t.Fatal(err)
	}
	c := issued.Cert
	if c.IsCA || c.KeyUsage&x509.KeyUsageCertSign != 0 || len(c.DNSNames)+len(c.IPAddresses)+len(c.EmailAddresses)+len(c.URIs) != 0 {
		t.Fatalf("the request widened the certificate: CA %v, key usage %b, names %v %v", c.IsCA, c.KeyUsage, c.DNSNames, c.IPAddresses)
	}
	if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Fatalf("EKU %v, want clientAuth only", c.ExtKeyUsage)
	}
	if c.Subject.CommonName != "device-7" || len(c.Subject.Organization) != 1 || c.Subject.Organization[0] != "Devices" {
		t.Fatalf("subject %v: want the request's", c.Subject)
	}
	if !c.PublicKey.(*ecdsa.PublicKey).Equal(r.CSR.PublicKey) {
		t.Fatal("not the request's key")
	}
	if issued.KeyPEM != nil {
		t.Fatal("a key was made")
	}
	issued, _, err = is.SignRequest(r, "device-8", cfsslconf.ClientProfile)
	if err != nil || issued.Cert.Subject.CommonName != "device-8" {
		t.Fatalf("--cn override: %v %v", err, issued)
	}
}

func TestParseDeviceRequestRefusals(t *testing.T) {
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	weakDER, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x"}}, weak)
	good := greedyRequest(t, "x")
	block, _ := pem.Decode(good)
	tampered := append([]byte(nil), block.Bytes...)
	tampered[len(tampered)-70] ^= 1 // inside the subject or key: the signature no longer covers it
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":      {nil, "empty"},
		"rsa1024":    {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: weakDER}), "RSA 1024-bit, too weak"},
		"key inside": {append(append([]byte{}, good...), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}})...), "holds a private key"},
		"two":        {append(append([]byte{}, good...), good...), "more than one request"},
		"garbage":    {[]byte("hello"), "not a PKCS#10 request"},
		"tampered":   {pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: tampered}), "signature does not verify"},
	} {
		_, err := ParseDeviceRequest(name+".csr", tc.data)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), name+".csr: ") {
			t.Errorf("%s: %v, want the file and %q", name, err, tc.want)
		}
	}
}

// A device's request is input from outside: parsing never panics, and
// what is accepted has a verified signature and an accepted key.
func FuzzParseDeviceRequest(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}}, key)
	f.Add(der)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	f.Add([]byte("-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n"))
	f.Add([]byte{0x30, 0x82, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseDeviceRequest("fuzz.csr", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csr: ") {
				t.Fatalf("error without the file: %v", err)
			}
			return
		}
		if r.CSR.CheckSignature() != nil {
			t.Fatal("accepted a request whose signature does not verify")
		}
	})
}
