package access

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"
)

// A corpus of certificates made with crypto/x509, one per case the upload
// rules must judge.

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

func testRSAKey(t *testing.T) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			t.Fatal(err)
		}
	})
	return rsaKey
}

type certSpec struct {
	cn        string
	key       crypto.Signer
	parent    *x509.Certificate // nil: self-signed
	parentKey crypto.Signer
	sigAlg    x509.SignatureAlgorithm
	noBC      bool
	isCA      bool
	pathLen   int // -1 none
	notBefore time.Time
	notAfter  time.Time
	eku       []x509.ExtKeyUsage
	ku        x509.KeyUsage
}

func makeCert(t *testing.T, s certSpec) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	if s.key == nil {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s.key = k
	}
	if s.notBefore.IsZero() {
		s.notBefore = time.Now().Add(-time.Hour)
	}
	if s.notAfter.IsZero() {
		s.notAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if s.ku == 0 && s.isCA {
		s.ku = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: x509pkix.Name{CommonName: s.cn},
		NotBefore: s.notBefore, NotAfter: s.notAfter, KeyUsage: s.ku, ExtKeyUsage: s.eku,
		BasicConstraintsValid: !s.noBC, IsCA: s.isCA, SignatureAlgorithm: s.sigAlg,
	}
	if s.isCA {
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = s.pathLen, s.pathLen == 0
	}
	parent, parentKey := tmpl, s.key
	if s.parent != nil {
		parent, parentKey = s.parent, s.parentKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, s.key.Public(), parentKey)
	if err != nil {
		t.Fatalf("%s: %v", s.cn, err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, s.key
}

func pemOf(certs ...*x509.Certificate) []byte { return OrderedPEM(certs) }

func ruleStatus(r *UploadReport, rule string) []Status {
	var out []Status
	for _, c := range r.Bundle {
		if c.Rule == rule {
			out = append(out, c.Status)
		}
	}
	for _, cc := range r.Certificates {
		for _, c := range cc.Checks {
			if c.Rule == rule {
				out = append(out, c.Status)
			}
		}
	}
	for _, c := range r.Hostnames {
		if c.Rule == rule {
			out = append(out, c.Status)
		}
	}
	return out
}

func TestValidateUploadCorpus(t *testing.T) {
	now := time.Now()
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaRoot, _ := makeCert(t, certSpec{cn: "RSA Root", key: testRSAKey(t), isCA: true, pathLen: -1})
	ecRoot, ecRootKey := makeCert(t, certSpec{cn: "P-384 Root", key: p384, isCA: true, pathLen: -1})
	pssRoot, _ := makeCert(t, certSpec{cn: "PSS Root", key: testRSAKey(t), isCA: true, pathLen: -1, sigAlg: x509.SHA256WithRSAPSS})
	edRoot, _ := makeCert(t, certSpec{cn: "Ed25519 Root", key: edKey, isCA: true, pathLen: -1})
	sha1Root, _ := makeCert(t, certSpec{cn: "SHA1 Root", key: testRSAKey(t), isCA: true, pathLen: -1, sigAlg: x509.SHA1WithRSA})
	notCA, _ := makeCert(t, certSpec{cn: "Not a CA", isCA: false})
	noBC, _ := makeCert(t, certSpec{cn: "No BC", noBC: true})
	expired, _ := makeCert(t, certSpec{cn: "Expired", isCA: true, pathLen: -1, notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-24 * time.Hour)})
	future, _ := makeCert(t, certSpec{cn: "Future", isCA: true, pathLen: -1, notBefore: now.Add(48 * time.Hour), notAfter: now.Add(400 * 24 * time.Hour)})
	in10, _ := makeCert(t, certSpec{cn: "Ten days", isCA: true, pathLen: -1, notAfter: now.Add(10 * 24 * time.Hour)})
	in20, _ := makeCert(t, certSpec{cn: "Twenty days", isCA: true, pathLen: -1, notAfter: now.Add(20 * 24 * time.Hour)})
	noCRLSign, _ := makeCert(t, certSpec{cn: "No CRL sign", isCA: true, pathLen: -1, ku: x509.KeyUsageCertSign})
	inter, interKey := makeCert(t, certSpec{cn: "Intermediate", isCA: true, pathLen: 0, parent: ecRoot, parentKey: ecRootKey})
	leaf, _ := makeCert(t, certSpec{cn: "James Royal", parent: inter, parentKey: interKey, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, ku: x509.KeyUsageDigitalSignature})
	otherRoot, otherKey := makeCert(t, certSpec{cn: "Other Root", isCA: true, pathLen: -1})
	strayInter, _ := makeCert(t, certSpec{cn: "Stray Intermediate", isCA: true, pathLen: 0, parent: otherRoot, parentKey: otherKey})
	zeroRoot, zeroKey := makeCert(t, certSpec{cn: "Zero Root", isCA: true, pathLen: 0})
	underZero, _ := makeCert(t, certSpec{cn: "Under Zero", isCA: true, pathLen: 0, parent: zeroRoot, parentKey: zeroKey})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("not really a key")})

	cases := []struct {
		name     string
		data     []byte
		hosts    []string
		accepted bool
		rule     string
		want     Status
		message  string
	}{
		{"good RSA root", pemOf(rsaRoot), nil, true, "signature", Pass, "SHA256-RSA is accepted"},
		{"good P-384 root", pemOf(ecRoot), nil, true, "signature", Pass, "ECDSA-SHA384 is accepted"},
		{"RSA-PSS root", pemOf(pssRoot), nil, false, "signature", Fail, "SHA256-RSAPSS, which Access does not accept"},
		{"Ed25519 root", pemOf(edRoot), nil, false, "signature", Fail, "Ed25519, which Access does not accept"},
		{"SHA-1 root passes with a warning", pemOf(sha1Root), nil, true, "signature", Warn, "SHA-1 is broken"},
		{"CA:FALSE", pemOf(notCA), nil, false, "ca-flag", Fail, "CA:FALSE"},
		{"no Basic Constraints", pemOf(noBC), nil, false, "ca-flag", Fail, "no Basic Constraints"},
		{"expired", pemOf(expired), nil, false, "validity", Fail, "expired on"},
		{"not yet valid", pemOf(future), nil, false, "validity", Fail, "not valid yet"},
		{"expiring in 10 days", pemOf(in10), nil, true, "validity", Warn, "URGENT: expires in 9 days"},
		{"expiring in 20 days", pemOf(in20), nil, true, "validity", Warn, "inside Access's 30-day alert"},
		{"no cRLSign", pemOf(noCRLSign), nil, true, "key-usage", Warn, "lacks cRLSign"},
		{"leaf alone", pemOf(leaf), nil, false, "ca-flag", Fail, "this is a client certificate, not a CA"},
		{"chain in order", pemOf(inter, ecRoot), nil, true, "chain", Pass, "2 certificates"},
		{"chain in the wrong order", pemOf(ecRoot, inter), nil, false, "chain", Fail, "out of order"},
		{"chain with a leaf inside", pemOf(leaf, inter, ecRoot), nil, false, "ca-flag", Fail, "client certificate"},
		{"intermediate of another root", pemOf(strayInter, ecRoot), nil, false, "chain", Fail, "is not signed by certificate 2"},
		{"chain without its root", pemOf(inter), nil, false, "chain", Fail, "is not in the bundle"},
		{"duplicate", pemOf(ecRoot, ecRoot), nil, false, "chain", Fail, "duplicate"},
		{"path length exceeded", pemOf(underZero, zeroRoot), nil, false, "chain", Fail, "allows 0 intermediate CA(s) below it"},
		{"key pasted in", append(pemOf(ecRoot), keyPEM...), nil, false, "content", Fail, "private key"},
		{"DER", ecRoot.Raw, nil, false, "content", Fail, "openssl x509 -inform DER"},
		{"hostname ok", pemOf(ecRoot), []string{"auth.example.com"}, true, "hostname", Pass, "auth.example.com"},
		{"hostname IDN", pemOf(ecRoot), []string{"bücher.example"}, true, "hostname", Pass, "xn--bcher-kva.example"},
		{"hostname scheme", pemOf(ecRoot), []string{"https://auth.example.com"}, false, "hostname", Fail, "has a scheme"},
		{"hostname path", pemOf(ecRoot), []string{"auth.example.com/app"}, false, "hostname", Fail, "has a path"},
		{"hostname wildcard", pemOf(ecRoot), []string{"*.example.com"}, false, "hostname", Fail, "wildcard"},
		{"hostname port", pemOf(ecRoot), []string{"auth.example.com:443"}, false, "hostname", Fail, "has a port"},
		{"hostname one label", pemOf(ecRoot), []string{"localhost"}, false, "hostname", Fail, "not fully qualified"},
		// the reason, not the echoed name (IDNA refuses the leading '-'
		// before checkLabel's own rule is reached)
		{"hostname bad label", pemOf(ecRoot), []string{"-bad.example.com"}, false, "hostname", Fail, "is not a valid domain name: idna: invalid label"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ValidateUpload("ca.pem", tc.data, ValidationOptions{Hostnames: tc.hosts, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if r.Accepted != tc.accepted {
				t.Errorf("accepted = %v, want %v (%d problems)", r.Accepted, tc.accepted, r.Problems)
			}
			found := false
			for _, group := range [][]Check{r.Bundle, r.Hostnames} {
				for _, c := range group {
					found = found || (c.Rule == tc.rule && c.Status == tc.want && strings.Contains(c.Message+" "+c.Hint, tc.message))
				}
			}
			for _, cc := range r.Certificates {
				for _, c := range cc.Checks {
					found = found || (c.Rule == tc.rule && c.Status == tc.want && strings.Contains(c.Message+" "+c.Hint, tc.message))
				}
			}
			if !found {
				t.Errorf("no %s check with status %s mentioning %q; got %v in %+v %+v", tc.rule, tc.want, tc.message, ruleStatus(r, tc.rule), r.Bundle, r.Certificates)
			}
		})
	}
	// the wrong order is fixable, and the fix passes
	r, _ := ValidateUpload("b.pem", pemOf(ecRoot, inter), ValidationOptions{Now: now})
	if r.FixedOrder == nil {
		t.Fatal("no fixed order offered")
	}
	if fixed, _ := ValidateUpload("b.pem", OrderedPEM(r.FixedOrder), ValidationOptions{Now: now}); !fixed.Accepted {
		t.Errorf("the fixed order is refused: %+v", fixed.Bundle)
	}
}

func TestValidateUploadUnreadable(t *testing.T) {
	for name, data := range map[string]string{
		"empty":     "",
		"spaces":    "  \n ",
		"garbage":   "hello world",
		"truncated": "-----BEGIN CERTIFICATE-----\nMIIB",
		"bad DER":   "\x30\x03\x01\x02\x03",
	} {
		if _, err := ValidateUpload("f.pem", []byte(data), ValidationOptions{}); err == nil {
			t.Errorf("%s: accepted as readable", name)
		}
	}
}

func TestLintFindingsAreWarningsUnlessStrict(t *testing.T) {
	// A CA with an empty subject trips RFC 5280 lints.
	c, _ := makeCert(t, certSpec{cn: "", isCA: true, pathLen: -1})
	r, _ := ValidateUpload("ca.pem", pemOf(c), ValidationOptions{Lint: true})
	sts := ruleStatus(r, "lint")
	if len(sts) == 0 || sts[0] != Warn || !r.Accepted {
		t.Errorf("lint statuses %v, accepted %v; want warnings that do not refuse", sts, r.Accepted)
	}
	r, _ = ValidateUpload("ca.pem", pemOf(c), ValidationOptions{Lint: true, Strict: true})
	if r.Accepted {
		t.Error("--strict: lint findings must refuse")
	}
}
