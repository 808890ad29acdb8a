package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestReadFreshness(t *testing.T) {
	now := time.Date(2026, 11, 27, 22, 0, 0, 0, time.UTC)
	good := `{"metadata": {"mtlsctl_time": "2026-11-27T22:00:00.5Z", "mtlsctl_nonce": "AAECAwQFBgcICQoLDA0ODw=="}}`
	f, err := ReadFreshness([]byte(good))
	if err != nil || !f.Stamped || len(f.Nonce) != 16 || f.Check(now) != nil {
		t.Fatalf("%+v %v", f, err)
	}
	if f.Check(now.Add(Window+time.Second)) == nil || f.Check(now.Add(-Window-time.Second)) == nil {
		t.Error("a request outside the window was accepted")
	}
	if f, err := ReadFreshness([]byte(`{"profile": "client"}`)); err != nil || f.Stamped {
		t.Errorf("a stock cfssl request: %+v %v", f, err)
	}
	for in, want := range map[string]string{
		`{"metadata": {"mtlsctl_time": "2026-11-27T22:00:00Z"}}`:                                   "not both",
		`{"metadata": {"mtlsctl_nonce": "AAECAwQFBgcICQoLDA0ODw=="}}`:                              "not both",
		`{"metadata": {"mtlsctl_time": "yesterday", "mtlsctl_nonce": "AAECAwQFBgcICQoLDA0ODw=="}}`: "RFC 3339",
		`{"metadata": {"mtlsctl_time": "2026-11-27T22:00:00Z", "mtlsctl_nonce": "AAEC"}}`:          "16 to 64",
		`{"metadata": {"mtlsctl_time": "2026-11-27T22:00:00Z", "mtlsctl_nonce": "%%%"}}`:           "16 to 64",
		`{"metadata": {"mtlsctl_time": 5, "mtlsctl_nonce": 6}}`:                                    "must be strings",
		`not json`:                   "not a JSON object",
		`{"metadata": ["an array"]}`: "not a JSON object",
	} {
		if _, err := ReadFreshness([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", in, err, want)
		}
	}
}

func TestGrantRoundTripAndRefusals(t *testing.T) {
	g := Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*", "build-[0-9]*"}}
	ext, err := g.Extension()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mk := func(exts ...pkix.Extension) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "r"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: exts}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	got, err := GrantOf(mk(ext))
	if err != nil || got.Role != RoleRunner || len(got.CNs) != 2 {
		t.Fatalf("%+v %v", got, err)
	}
	if got.Allows("client", "build-7") != nil || got.Allows("client", "prod") == nil || got.Allows("server", "ci-1") == nil {
		t.Error("Allows")
	}
	if _, err := GrantOf(mk()); err == nil {
		t.Error("a certificate without a grant was given one")
	}
	if _, err := GrantOf(mk(pkix.Extension{Id: OIDGrant, Value: []byte{0x30, 0x03, 0x0c, 0x01}})); err == nil {
		t.Error("a malformed grant was read")
	}
	for _, bad := range []Grant{{Role: "root"}, {Role: RoleRunner, CNs: []string{"*"}}, {Role: RoleRunner, Profiles: []string{"client"}}, {Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"[x"}}} {
		if _, err := bad.Extension(); err == nil {
			t.Errorf("grant %+v was accepted", bad)
		}
	}
}

// A missing signer-CA CRL is fine while nothing is revoked, and refuses
// everyone once the serials file lists a revocation.
func TestCRLCheckWithoutTheCRL(t *testing.T) {
	dir := t.TempDir()
	c := &CRLCheck{Path: filepath.Join(dir, "ca.crl"), Serials: filepath.Join(dir, "serials.txt")}
	cert := &x509.Certificate{SerialNumber: big.NewInt(5)}
	if err := c.Check(cert); err != nil {
		t.Fatalf("nothing revoked: %v", err)
	}
	os.WriteFile(c.Serials, []byte("# none yet\n\n"), 0o644)
	if err := c.Check(cert); err != nil {
		t.Fatalf("comments only: %v", err)
	}
	os.WriteFile(c.Serials, []byte("05 keyCompromise\n"), 0o644)
	if err := c.Check(cert); err == nil || !strings.Contains(err.Error(), "CRL") {
		t.Fatalf("revocations and no CRL: %v", err)
	}
}
