package access

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
)

// The Access view must agree with OpenSSL, which nobody here wrote: the DNs
// with -nameopt RFC2253 and -nameopt compat, serial, fingerprints, dates.
func TestAccessViewMatchesOpenSSL(t *testing.T) {
	openssl := interoptest.Require(t, "openssl")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	names := []x509pkix.Name{
		{CommonName: "Access Testing CA", Country: []string{"US"}, Province: []string{"Texas"}, Locality: []string{"Austin"},
			Organization: []string{"Access Testing"}, OrganizationalUnit: []string{"TX"}},
		{CommonName: `José "Q" <x>;y/z+w,v\u=k`, Organization: []string{" lead#", "#hash"}, OrganizationalUnit: []string{"trail "}},
		{CommonName: "née 東京", SerialNumber: "123", ExtraNames: []x509pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, Value: "a@b.example"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, Value: "example"},
			{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "private"},
		}},
		{CommonName: "tab\there"},
		// attribute types outside the usual ones: OpenSSL prints them by
		// its own short names
		{ExtraNames: []x509pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{2, 5, 4, 20}, Value: "+1 555"},
			{Type: asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 3}, Value: "a@b.example"},
			{Type: asn1.ObjectIdentifier{2, 5, 4, 72}, Value: "role"},
			{Type: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}, Value: "upn@example"},
		}},
	}
	// A T61String with a byte above 0x7f, which OpenSSL reads as Latin-1
	// (Go does not write T61String, so the DER is made here).
	names = append(names, x509pkix.Name{})
	rawSubjects := make([][]byte, len(names))
	rawSubjects[len(names)-1] = mustMarshalDN(t, asn1.TagT61String, "caf\xe9")
	dir := t.TempDir()
	for i, name := range names {
		tmpl := &x509.Certificate{SerialNumber: new(big.Int).Lsh(big.NewInt(0xfe), uint(8*i)), Subject: name, RawSubject: rawSubjects[i],
			NotBefore: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), NotAfter: time.Date(2027, 12, 22, 19, 39, 0, 0, time.UTC),
			SubjectKeyId: []byte{1, 2, 3, byte(i)}, AuthorityKeyId: []byte{9, 8, 7}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, "c.pem")
		os.WriteFile(f, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
		run := func(args ...string) string {
			out, err := exec.Command(openssl, append([]string{"x509", "-in", f, "-noout"}, args...)...).Output()
			if err != nil {
				t.Fatalf("openssl %v: %v", args, err)
			}
			s := strings.TrimSpace(string(out))
			_, v, _ := strings.Cut(s, "=")
			return v
		}
		v := AccessView(c)
		checks := []struct{ field, ours, theirs string }{
			{"certSubjectDN", v.CertSubjectDN, run("-subject", "-nameopt", "RFC2253")},
			{"certIssuerDN", v.CertIssuerDN, run("-issuer", "-nameopt", "RFC2253")},
			{"certSubjectDNLegacy", v.CertSubjectDNLegacy, run("-subject", "-nameopt", "compat")},
			{"certIssuerDNLegacy", v.CertIssuerDNLegacy, run("-issuer", "-nameopt", "compat")},
			{"certSerial", v.CertSerial, run("-serial")},
			{"certFingerprintSHA1", v.CertFingerprintSHA1, strings.ToLower(strings.ReplaceAll(run("-fingerprint", "-sha1"), ":", ""))},
			{"certFingerprintSHA256", v.CertFingerprintSHA256, strings.ToLower(strings.ReplaceAll(run("-fingerprint", "-sha256"), ":", ""))},
			{"certNotBefore", v.CertNotBefore, run("-startdate")},
			{"certNotAfter", v.CertNotAfter, run("-enddate")},
		}
		for _, ch := range checks {
			if ch.ours != ch.theirs {
				t.Errorf("name %d %s:\n ours    %q\n openssl %q", i, ch.field, ch.ours, ch.theirs)
			}
		}
		// SubjectKeyId {1, 2, 3, i}, as Access shows it: upper-case hex
		if want := fmt.Sprintf("010203%02X", i); v.CertSKI != want {
			t.Errorf("certSKI %q, want %q", v.CertSKI, want)
		}
		if v.CertIssuerSKI != "090807" {
			t.Errorf("certIssuerSKI %q", v.CertIssuerSKI)
		}
	}
}

// mustMarshalDN is a one-attribute name (a CN) with the value as tag says.
func mustMarshalDN(t *testing.T, tag int, value string) []byte {
	t.Helper()
	atv, err := asn1.Marshal(struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}{asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.RawValue{Tag: tag, Bytes: []byte(value)}})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: atv}})
	if err != nil {
		t.Fatal(err)
	}
	return der
}
