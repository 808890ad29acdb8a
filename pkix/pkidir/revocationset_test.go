package pkidir

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"math/big"
	"strings"
	"testing"
	"time"
)

// The edge must only take complete, current, verified CRLs as the truth.
func TestReadEdgeCRL(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId: []byte{1, 2, 3, 4}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	now := time.Now()
	crl := func(next time.Time, exts ...pkix.Extension) *x509.RevocationList {
		raw, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now.Add(-time.Minute), NextUpdate: next, ExtraExtensions: exts}, ca, key)
		if err != nil {
			t.Fatal(err)
		}
		rl, err := x509.ParseRevocationList(raw)
		if err != nil {
			t.Fatal(err)
		}
		return rl
	}
	oid := func(ids ...int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier(ids) }
	for _, tc := range []struct {
		name string
		rl   *x509.RevocationList
		want string
	}{
		{"good", crl(now.Add(time.Hour)), ""},
		{"stale", crl(now.Add(-time.Second)), "is past its next update"},
		{"delta", crl(now.Add(time.Hour), pkix.Extension{Id: oid(2, 5, 29, 27), Critical: true, Value: []byte{2, 1, 1}}), "is a delta CRL"},
		{"partitioned", crl(now.Add(time.Hour), pkix.Extension{Id: oid(2, 5, 29, 28), Critical: true, Value: []byte{0x30, 0x03, 0x81, 0x01, 0xff}}), "Issuing Distribution Point (only user certificates)"},
		{"unknown critical", crl(now.Add(time.Hour), pkix.Extension{Id: oid(1, 2, 3, 4), Critical: true, Value: []byte{5, 0}}), "does not understand"},
		{"unknown, not critical", crl(now.Add(time.Hour), pkix.Extension{Id: oid(1, 2, 3, 4), Value: []byte{5, 0}}), ""},
	} {
		_, err := revocation.ReadEdgeCRL("ca.crl", tc.rl.Raw, ca, "ca.pem", now, nil)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// another CA's signature
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl.PublicKey = &other.PublicKey
	der2, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &other.PublicKey, other)
	ca2, _ := x509.ParseCertificate(der2)
	if _, err := revocation.ReadEdgeCRL("ca.crl", crl(now.Add(time.Hour)).Raw, ca2, "other.pem", now, nil); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Errorf("foreign signature: %v", err)
	}
}

// WAF rules stay under the length limit and list both spellings of a
// serial whose first byte has its top bit set.
func TestWAFRules(t *testing.T) {
	set := &revocation.RevocationSet{RevokedCAs: []string{"AA"}}
	var revoked []revocation.Revocation
	for i := range 500 {
		revoked = append(revoked, revocation.Revocation{IssuerSKI: "0102", Serial: strings.ToUpper(big.NewInt(int64(0x7000000 + i)).Text(16))})
	}
	revoked = append(revoked, revocation.Revocation{IssuerSKI: "0102", Serial: "8F01"})
	rules := revocation.WAFRules(set, revoked)
	joined := strings.Join(rules, "\n")
	for _, r := range rules {
		if len(r) > revocation.WAFExpressionLimit {
			t.Errorf("a rule is %d characters long", len(r))
		}
	}
	if !strings.Contains(joined, `"8F01"`) || !strings.Contains(joined, `"008F01"`) {
		t.Error("the serial with its top bit set is not listed in both forms")
	}
	if strings.Count(joined, `"7000000"`) != 1 || len(rules) < 3 {
		t.Errorf("%d rules", len(rules))
	}
	if !strings.HasPrefix(rules[0], `(cf.tls_client_auth.cert_verified and cf.tls_client_auth.cert_issuer_ski in {"AA"})`) {
		t.Errorf("first rule %q", rules[0])
	}
}
