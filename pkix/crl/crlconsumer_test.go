package crl

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// hand-made CRLs, signed by a CA made here, each with one thing RFC 5280
// asks a consumer to notice.
func signCRL(t *testing.T, ca *testpki.CA, tmpl *x509.RevocationList) []byte {
	t.Helper()
	if tmpl.Number == nil {
		tmpl.Number = big.NewInt(7)
	}
	if tmpl.ThisUpdate.IsZero() {
		tmpl.ThisUpdate = time.Now().Add(-time.Minute)
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// crypto/x509 writes reason codes only from its ReasonCode field (and
// only valid ones), so test CRLs carry them under a stand-in OID that
// resign turns into the real one.
var standInReason = asn1.ObjectIdentifier{2, 5, 29, 99}

func reasonExt(code byte) pkix.Extension {
	return pkix.Extension{Id: standInReason, Value: []byte{0x0a, 0x01, code}}
}

// resign replaces the stand-in reason OID with reasonCode's in the signed
// part and signs it again with the CA's key.
func resign(t *testing.T, ca *testpki.CA, der []byte) []byte {
	return resignWith(t, ca, der, func(tbs []byte) []byte {
		return bytes.ReplaceAll(tbs, []byte{0x06, 0x03, 0x55, 0x1d, 0x63}, []byte{0x06, 0x03, 0x55, 0x1d, 0x15})
	})
}

// resignWith changes the content of a CRL's TBSCertList with patch and
// signs the result again with the CA's key (ECDSA with SHA-256).
func resignWith(t *testing.T, ca *testpki.CA, der []byte, patch func(tbs []byte) []byte) []byte {
	t.Helper()
	in := cryptobyte.String(der)
	var outer, tbs, algo cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&algo, cbasn1.SEQUENCE) {
		t.Fatal("malformed test CRL")
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(patch(append([]byte{}, tbs...))) })
	signed := b.BytesOrPanic()
	digest := sha256.Sum256(signed)
	sig, err := ca.Key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out cryptobyte.Builder
	out.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddBytes(signed)
		b.AddBytes(algo)
		b.AddASN1BitString(sig)
	})
	return out.BytesOrPanic()
}

func TestReadCRLEntryFindings(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	now := time.Now()
	entry := func(serial int64, exts ...pkix.Extension) x509.RevocationListEntry {
		return x509.RevocationListEntry{SerialNumber: big.NewInt(serial), RevocationTime: now.Add(-time.Hour), ExtraExtensions: exts}
	}
	unknownCrit := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}
	certIssuer := pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 29}, Critical: true, Value: []byte{0x30, 0x00}}
	for _, tc := range []struct {
		name               string
		entries            []x509.RevocationListEntry
		kind               string
		mustNotUse         bool
		refusal, warning   string
		explicitUnspecifed bool
	}{
		{"plain", []x509.RevocationListEntry{entry(1, reasonExt(1))}, "complete", false, "", "", false},
		{"explicit unspecified", []x509.RevocationListEntry{entry(1, reasonExt(0))}, "complete", false, "", "", true},
		{"unknown critical entry extension", []x509.RevocationListEntry{entry(1), entry(2, unknownCrit), entry(3, unknownCrit)}, "complete", true,
			"2 entries have critical extensions mtlsctl does not handle; the first, 02, has a critical extension 1.2.3.4", "", false},
		{"reason 7", []x509.RevocationListEntry{entry(5, reasonExt(7))}, "complete", false, "", "entry 05 has reason code 7, which RFC 5280 does not define", false},
		// One line per kind, whatever OIDs or codes: a CRL with thousands
		// of different OIDs must not print thousands of lines.
		{"different critical OIDs", []x509.RevocationListEntry{entry(1, unknownCrit), entry(2, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 5}, Critical: true, Value: []byte{5, 0}})}, "complete", true,
			"2 entries have critical extensions mtlsctl does not handle; the first, 01, has a critical extension 1.2.3.4", "", false},
		{"different reason codes", []x509.RevocationListEntry{entry(5, reasonExt(7)), entry(6, reasonExt(11))}, "complete", false, "",
			"2 entries have reason codes a complete CRL should not have; the first, 05, has reason code 7", false},
		{"reason 11", []x509.RevocationListEntry{entry(5, reasonExt(11))}, "complete", false, "", "reason code 11", false},
		{"removeFromCRL", []x509.RevocationListEntry{entry(5, reasonExt(8))}, "complete", false, "", "removeFromCRL, which belongs only in a delta CRL", false},
		{"duplicate reason", []x509.RevocationListEntry{entry(6, reasonExt(1), reasonExt(1))}, "complete", false, "", "duplicate reason code extension", false},
		{"empty certificate issuer", []x509.RevocationListEntry{entry(6, certIssuer)}, "indirect", false, "Certificate Issuer", "empty or malformed certificate issuer", false},
		// OpenSSL refuses a critical reason code (RFC 5280: non-critical);
		// a duplicate does not hide that the second copy is critical.
		{"critical reason code", []x509.RevocationListEntry{entry(1, pkix.Extension{Id: standInReason, Critical: true, Value: []byte{0x0a, 0x01, 0x01}})}, "complete", true,
			"entry 01 has a critical extension 2.5.29.21", "", false},
		{"duplicate, then critical", []x509.RevocationListEntry{entry(1, pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: []byte{5, 0}}, unknownCrit)}, "complete", true,
			"entry 01 has a critical extension 1.2.3.4", "duplicate 1.2.3.4 extension", false},
		{"malformed reason", []x509.RevocationListEntry{entry(6, pkix.Extension{Id: standInReason, Value: []byte{0x02, 0x01, 0x01}})}, "complete", false, "", "malformed reason code", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der := resign(t, ca, signCRL(t, ca, &x509.RevocationList{NextUpdate: now.Add(time.Hour), RevokedCertificateEntries: tc.entries}))
			rl, err := ReadCRL("t.crl", der)
			if err != nil {
				t.Fatal(err)
			}
			refusals, warnings := strings.Join(rl.Refusals, "\n"), strings.Join(rl.Warnings, "\n")
			if rl.Kind != tc.kind || rl.MustNotUse != tc.mustNotUse || (tc.refusal == "") != (refusals == "") ||
				!strings.Contains(refusals, tc.refusal) || !strings.Contains(warnings, tc.warning) || (tc.warning == "") != (warnings == "") {
				t.Errorf("kind %s, must not use %v\nrefusals %q\nwarnings %q", rl.Kind, rl.MustNotUse, rl.Refusals, rl.Warnings)
			}
			if (rl.Usable() == nil) != (refusals == "") {
				t.Errorf("Usable: %v", rl.Usable())
			}
			if rl.Count != len(tc.entries) || len(rl.Entries) != len(tc.entries) {
				t.Errorf("%d entries read", rl.Count)
			}
			if tc.explicitUnspecifed && (!rl.Entries[0].HasReason || rl.Entries[0].Reason != 0) {
				t.Errorf("explicit unspecified read as %+v", rl.Entries[0])
			}
			if err := rl.VerifyBy(ca.Cert, "ca.pem"); err != nil {
				t.Errorf("VerifyBy: %v", err)
			}
		})
	}
}

// Signature verdicts name the part that failed.
func TestVerifyByNamesTheFailure(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	der := signCRL(t, ca, &x509.RevocationList{NextUpdate: time.Now().Add(time.Hour)})
	rl, err := ReadCRL("t.crl", der)
	if err != nil {
		t.Fatal(err)
	}
	part := func(err error) string {
		if f, ok := err.(*SignatureFailure); ok {
			return f.Part
		}
		return ""
	}
	other := testpki.NewCA(t, "ecdsa-256") // the same default name, another key
	if p := part(rl.VerifyBy(other.Cert, "other.pem")); p != "key identifier" {
		t.Errorf("another CA of the same name: %q", p)
	}
	// The same name and key identifier, another key: the signature itself.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := *ca.Cert
	tmpl.PublicKey = &key.PublicKey
	forged, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	forgedCert, _ := x509.ParseCertificate(forged)
	tmpl.PublicKey = ca.Cert.PublicKey
	if p := part(rl.VerifyBy(forgedCert, "forged.pem")); p != "signature" {
		t.Errorf("another key: %q", p)
	}
	// A CA without cRLSign: the signature verifies, the key usage does not.
	tmpl.KeyUsage = x509.KeyUsageCertSign
	noCRLSign, _ := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.Cert.PublicKey, ca.Key)
	noCRLSignCert, _ := x509.ParseCertificate(noCRLSign)
	if p := part(rl.VerifyBy(noCRLSignCert, "nocrlsign.pem")); p != "key usage" {
		t.Errorf("no cRLSign: %q", p)
	}
	// Another name.
	tmpl.Subject = pkix.Name{CommonName: "Someone Else"}
	tmpl.RawSubject = nil
	renamed, _ := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, ca.Cert.PublicKey, ca.Key)
	renamedCert, _ := x509.ParseCertificate(renamed)
	if err := rl.VerifyBy(renamedCert, "renamed.pem"); part(err) != "issuer name" || !strings.Contains(err.Error(), "CN=Someone Else") {
		t.Errorf("another name: %v", err)
	}
}

// SameDN compares as RFC 5280 §7.1 and OpenSSL do.
func TestSameDN(t *testing.T) {
	name := func(tag int, cn string) []byte {
		der, _ := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true,
			Bytes: mustMarshal(t, struct {
				Type  asn1.ObjectIdentifier
				Value asn1.RawValue
			}{asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.RawValue{Tag: tag, Bytes: []byte(cn)}})}})
		return der
	}
	for _, tc := range []struct {
		a, b []byte
		same bool
	}{
		{name(asn1.TagPrintableString, "Good CA"), name(asn1.TagUTF8String, "Good CA"), true},
		{name(asn1.TagUTF8String, "good  ca "), name(asn1.TagUTF8String, "Good CA"), true},
		{name(asn1.TagUTF8String, "Good CA"), name(asn1.TagUTF8String, "Good CB"), false},
		{name(asn1.TagUTF8String, "É"), name(asn1.TagUTF8String, "é"), false},                  // ASCII case folding only, as OpenSSL
		{name(asn1.TagUTF8String, "Good\u00a0CA"), name(asn1.TagUTF8String, "Good CA"), false}, // only ASCII white space folds
		{name(asn1.TagUTF8String, "Good\tCA"), name(asn1.TagUTF8String, "Good CA"), true},
		{name(18, "123"), name(asn1.TagPrintableString, "123"), false},               // NumericString compares as encoded
		{name(asn1.TagT61String, "caf\xe9"), name(asn1.TagUTF8String, "café"), true}, // T61String read as Latin-1
	} {
		if got := x509text.SameDN(tc.a, tc.b); got != tc.same {
			t.Errorf("SameDN(%x, %x) = %v", tc.a, tc.b, got)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// serve's CRL loader warns about a CRL without a next update. crypto/x509
// always writes one, so the test CRL has it cut out and is signed again.
func TestCRLStoreWarnsWithoutNextUpdate(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	next := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	der := signCRL(t, ca, &x509.RevocationList{NextUpdate: next})
	nextDER := EncodeTime(next)
	cut := resignWith(t, ca, der, func(tbs []byte) []byte {
		i := bytes.Index(tbs, nextDER)
		if i < 0 {
			t.Fatal("no nextUpdate in the test CRL")
		}
		return append(tbs[:i], tbs[i+len(nextDER):]...)
	})
	path := filepath.Join(t.TempDir(), "ca.crl")
	if err := os.WriteFile(path, cut, 0o644); err != nil {
		t.Fatal(err)
	}
	var warnings []string
	if _, err := LoadCRLStore(path, []*x509.Certificate{ca.Cert}, func(w string) { warnings = append(warnings, w) }, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "ca.crl: it has no next update: nothing tells when it is stale") {
		t.Errorf("warnings: %q", warnings)
	}
}

// A critical flag written as BER (any non-zero byte), which OpenSSL reads
// as TRUE, is critical here too.
func TestBERTrueIsCritical(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	der := signCRL(t, ca, &x509.RevocationList{NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: []x509.RevocationListEntry{
		{SerialNumber: big.NewInt(9), RevocationTime: time.Now().Add(-time.Hour),
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4}, Critical: true, Value: []byte{5, 0}}}}}})
	ber := resignWith(t, ca, der, func(tbs []byte) []byte {
		return bytes.Replace(tbs, []byte{0x06, 0x03, 0x2a, 0x03, 0x04, 0x01, 0x01, 0xff}, []byte{0x06, 0x03, 0x2a, 0x03, 0x04, 0x01, 0x01, 0x01}, 1)
	})
	if bytes.Equal(ber, der) {
		t.Fatal("nothing patched")
	}
	rl, err := ReadCRL("ber.crl", ber)
	if err != nil {
		t.Fatal(err)
	}
	if !rl.MustNotUse || rl.Usable() == nil {
		t.Errorf("a BER TRUE critical extension is ignored: %q", rl.Refusals)
	}
}

// PEM as OpenSSL takes it: text before the block (even text starting with
// "0", the first byte of DER), not an encrypted block, not two CRLs.
func TestCRLFileForms(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	der := signCRL(t, ca, &x509.RevocationList{NextUpdate: time.Now().Add(time.Hour)})
	block := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: der})
	for _, tc := range []struct {
		name, data, err string
	}{
		{"preamble starting with 0", "0 is where this CRL's story starts\n" + string(block), ""},
		{"DER after white space", "\n\n" + string(der), ""},
		{"encrypted", string(encrypted), "encrypted"},
		{"two CRLs", string(block) + string(block), "more than one CRL"},
		{"a damaged block before", "-----BEGIN X509 CRL-----\n!!!!\n-----END X509 CRL-----\n" + string(block), "truncated or damaged"},
		{"indefinite length", "\x30\x80" + string(der[2:]), "indefinite length"},
	} {
		_, err := ReadCRL("f.crl", []byte(tc.data))
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.err)
		}
	}
}
