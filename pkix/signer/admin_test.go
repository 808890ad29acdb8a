package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

func get(t *testing.T, url string, p *testPKI, cert tls.Certificate, path string) (int, []byte) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}}}, Timeout: 10 * time.Second}
	res, err := c.Get(url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// An admin revokes through the signer; the CRL from the database lists
// that certificate only, with its reason, under a growing CRL Number;
// runners get 403 on every admin endpoint.
func TestAdminRevokeListCRL(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	url := startSigner(t, p, &Service{Store: store, Issuer: issuer}, nil)
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	admin := p.leaf(t, "admin-1", &Grant{Role: RoleAdmin}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	rs := remoteSigner(t, url, p, runnerCert, testHMAC)
	var certs []*x509.Certificate
	for _, cn := range []string{"ci-1", "ci-2"} {
		req := cfsigner.SignRequest{Request: csrPEM(t, cn), Profile: "client"}
		Freshen(&req, time.Now())
		pemBytes, err := rs.Sign(req)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := pemutil.ParseCertificatePEM(cn, pemBytes)
		certs = append(certs, c)
	}
	for _, path := range []string{PathList, PathCRL} {
		if code, _ := get(t, url, p, runnerCert, path); code != http.StatusForbidden {
			t.Errorf("a runner on %s: %d, want 403", path, code)
		}
	}
	if code, _, err := post(t, url, p, &runnerCert, PathRevoke, `{"serial": "01"}`); err != nil || code != http.StatusForbidden {
		t.Errorf("a runner revoking: %d %v", code, err)
	}

	crlOf := func() *x509.RevocationList {
		code, der := get(t, url, p, admin, PathCRL+"?next_update=2d")
		if code != 200 {
			t.Fatalf("crl: %d %s", code, der)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(issuer.Cert); err != nil {
			t.Fatal(err)
		}
		return crl
	}
	before := crlOf()
	if len(before.RevokedCertificateEntries) != 0 {
		t.Fatalf("%d entries before any revocation", len(before.RevokedCertificateEntries))
	}
	serial := x509text.SerialHex(certs[0].SerialNumber)
	code, body, err := post(t, url, p, &admin, PathRevoke, `{"serial": "`+strings.ToLower(serial)+`", "reason": "keyCompromise"}`)
	if err != nil || code != 200 || !strings.Contains(body, `"revoked":true`) {
		t.Fatalf("revoke: %d %s %v", code, body, err)
	}
	if _, body, _ := post(t, url, p, &admin, PathRevoke, `{"serial": "`+serial+`"}`); !strings.Contains(body, `"revoked":false`) {
		t.Errorf("revoking twice: %s", body)
	}
	if code, body, _ := post(t, url, p, &admin, PathRevoke, `{"serial": "ABCDEF"}`); code != 400 || !strings.Contains(body, "no such certificate") {
		t.Errorf("an unknown serial: %d %s", code, body)
	}
	if code, _, _ := post(t, url, p, &admin, PathRevoke, `{"serial": "`+serial+`", "reason": "because"}`); code != 400 {
		t.Errorf("an unknown reason: %d", code)
	}
	after := crlOf()
	if len(after.RevokedCertificateEntries) != 1 || after.RevokedCertificateEntries[0].SerialNumber.Cmp(certs[0].SerialNumber) != 0 || after.RevokedCertificateEntries[0].ReasonCode != 1 {
		t.Fatalf("entries %+v", after.RevokedCertificateEntries)
	}
	if after.Number.Cmp(before.Number) <= 0 || after.Number.Cmp(big.NewInt(time.Now().Add(-time.Hour).UnixMilli())) < 0 {
		t.Errorf("CRL number %s after %s", after.Number, before.Number)
	}
	if d := after.NextUpdate.Sub(after.ThisUpdate); d != 48*time.Hour {
		t.Errorf("next update %s after this update", d)
	}
	// The list, as an admin sees it: hex serials, the runner, the reason.
	code, listed := get(t, url, p, admin, PathList+"?status=revoked")
	var answer struct {
		Result []Listed `json:"result"`
	}
	if code != 200 || json.Unmarshal(listed, &answer) != nil || len(answer.Result) != 1 || answer.Result[0].Serial != serial || answer.Result[0].Reason != "keyCompromise" || !strings.HasPrefix(answer.Result[0].Runner, "CN=runner-1 ") {
		t.Fatalf("list: %d %s", code, listed)
	}
	if _, listed := get(t, url, p, admin, PathList+"?cn=ci-2"); !strings.Contains(string(listed), `"cn":"ci-2"`) || strings.Contains(string(listed), `"cn":"ci-1"`) {
		t.Errorf("list --cn: %s", listed)
	}
}

// Two signers on one database never publish the same CRL number, and a
// floor (a local ca.crl's number) is never gone back from.
func TestCRLNumbersNeverRepeat(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	aki := "abcd"
	now := time.Now()
	seen := map[string]bool{}
	results := make(chan string, 20)
	for i := 0; i < 20; i++ {
		go func() {
			crl, err := store.BuildCRL(t.Context(), issuer, aki, nil, time.Hour, now)
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- crl.Number.String()
		}()
	}
	for i := 0; i < 20; i++ {
		n := <-results
		if strings.HasPrefix(n, "error") || seen[n] {
			t.Fatalf("CRL number %s (seen: %v)", n, seen[n])
		}
		seen[n] = true
	}
	floor := new(big.Int).Lsh(big.NewInt(1), 100)
	crl, err := store.BuildCRL(t.Context(), issuer, aki, floor, time.Hour, now)
	if err != nil || crl.Number.Cmp(floor) <= 0 {
		t.Fatalf("after a floor of %s: %v %v", floor, crl, err)
	}
}

// A directory that published its own CRLs before the signer: the
// signer's first CRL numbers above the local ca.crl's.
func TestSignerCRLNumberAboveTheLocalCRL(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	local := filepath.Join(t.TempDir(), "ca.crl")
	high := new(big.Int).Lsh(big.NewInt(1), 100)
	b := crl.NewCRLBuilder(0, time.Now())
	crl, err := b.Sign(crl.CRLParams{Issuer: issuer.Cert, Key: issuer.Key, Number: high, ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(local, crl.Bytes(), 0o644)
	url := startServer(t, &Server{Service: &Service{Store: store, Issuer: issuer}, Open: []string{"client"}, HMACKey: testHMAC, ClientCAs: p.pool, LocalCRL: local}, p)
	admin := p.leaf(t, "admin-1", &Grant{Role: RoleAdmin}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	code, der := get(t, url, p, admin, PathCRL)
	if code != 200 {
		t.Fatalf("%d %s", code, der)
	}
	got, err := x509.ParseRevocationList(der)
	if err != nil || got.Number.Cmp(high) <= 0 {
		t.Fatalf("the signer's CRL number %v after a local %s (%v)", got.Number, high, err)
	}
}

// A profile's name_whitelist (cfssl's CN rule) holds for runners too,
// whatever their grant allows.
func TestNameWhitelistHolds(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, `{"signing": {"default": {"expiry": "8760h"}, "profiles": {"client": {"usages": ["digital signature", "client auth"], "expiry": "8760h", "name_whitelist": "^ci-[0-9]+$"}}}}`)
	svc := &Service{Store: store, Issuer: issuer}
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}})
	if _, err := svc.Sign(t.Context(), who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csrPEM(t, "ci-7"), Profile: "client"}); err != nil {
		t.Fatalf("an allowed name: %v", err)
	}
	_, err := svc.Sign(t.Context(), who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csrPEM(t, "ci-x"), Profile: "client"})
	var re *RequestError
	if !errors.As(err, &re) {
		t.Fatalf("a name outside name_whitelist: %v", err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows", n)
	}
}

// A profile the signer did not open is refused even when a runner's
// grant names it and the configuration holds it: cfssl's authsign falls
// back to its default profile for the HMAC check, so the signer checks
// the profile actually asked for (a CA profile here: a sub-CA for a
// runner otherwise).
func TestUnopenedProfileRefused(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, `{"signing": {"default": {"expiry": "8760h"}, "profiles": {
		"client": {"usages": ["digital signature", "client auth"], "expiry": "8760h"},
		"peer": {"usages": ["digital signature", "client auth", "server auth"], "expiry": "87600h"},
		"sub": {"usages": ["cert sign", "crl sign", "client auth"], "expiry": "87600h", "ca_constraint": {"is_ca": true, "max_path_len": 0, "max_path_len_zero": true}}}}}`)
	p := newTestPKI(t)
	url := startSigner(t, p, &Service{Store: store, Issuer: issuer}, nil)
	runnerCert := p.leaf(t, "runner-3", &Grant{Role: RoleRunner, Profiles: []string{"client", "peer", "sub"}, CNs: []string{"ci-*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	rs := remoteSigner(t, url, p, runnerCert, testHMAC)
	for _, profile := range []string{"peer", "sub", "nonexistent"} {
		req := cfsigner.SignRequest{Request: csrPEM(t, "ci-"+profile), Profile: profile}
		Freshen(&req, time.Now())
		if _, err := rs.Sign(req); err == nil || !strings.Contains(err.Error(), "not open to runners") {
			t.Errorf("profile %s: %v", profile, err)
		}
	}
	if n := rows(t, store); n != 0 {
		t.Fatalf("%d rows", n)
	}
	req := cfsigner.SignRequest{Request: csrPEM(t, "ci-ok"), Profile: "client"}
	Freshen(&req, time.Now())
	if _, err := rs.Sign(req); err != nil {
		t.Fatalf("the open profile: %v", err)
	}
}

// A runner gets no name (SAN) from its CSR even under an open profile
// whose whitelist copies names: its grant covers the CN only.
func TestRunnerGetsNoSANs(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, `{"signing": {"default": {"expiry": "8760h"}, "profiles": {
		"client": {"usages": ["digital signature", "client auth"], "expiry": "8760h"},
		"peer": {"usages": ["digital signature", "client auth", "server auth"], "expiry": "8760h",
			"CSRWhitelist": {"DNSNames": true, "IPAddresses": true, "EmailAddresses": true, "URIs": true, "PublicKey": true, "PublicKeyAlgorithm": true, "Subject": true}}}}}`)
	svc := &Service{Store: store, Issuer: issuer, Open: []string{"client", "peer"}}
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client", "peer"}, CNs: []string{"ci-*"}})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	u, _ := url.Parse("spiffe://prod/admin")
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ci-r"},
		DNSNames: []string{"prod.example.com"}, EmailAddresses: []string{"root@example.com"}, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}, URIs: []*url.URL{u}}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	for _, profile := range []string{"peer", "client"} {
		certPEM, err := svc.Sign(t.Context(), who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csr, Profile: profile})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := pemutil.ParseCertificatePEM("c", certPEM)
		if len(c.DNSNames)+len(c.EmailAddresses)+len(c.IPAddresses)+len(c.URIs) != 0 {
			t.Errorf("profile %s: the runner got names %v %v %v %v", profile, c.DNSNames, c.EmailAddresses, c.IPAddresses, c.URIs)
		}
	}
}
