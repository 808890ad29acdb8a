package signer

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/pem"
	"net/http/httptrace"
	"sync/atomic"

	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	csrpkg "github.com/cloudflare/cfssl/csr"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/config"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/remote"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// testPKI is the signer CA, the server's certificate, and client
// certificates with grants.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Signer CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = p.leaf(t, "signer.internal", nil, x509.ExtKeyUsageServerAuth, p.ca, p.caKey)
	return p
}

// leaf is a certificate signed by issuer with an optional grant.
func (p *testPKI) leaf(t *testing.T, cn string, g *Grant, eku x509.ExtKeyUsage, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	if g != nil {
		ext, err := g.Extension()
		if err != nil {
			t.Fatal(err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}
}

const testHMAC = "0123456789abcdef0123456789abcdef"

// startSigner runs the signer on a loopback TLS listener.
func startSigner(t *testing.T, p *testPKI, svc *Service, revoked func(*x509.Certificate) error) string {
	t.Helper()
	return startServer(t, &Server{Service: svc, Open: []string{"client"}, HMACKey: testHMAC, ClientCAs: p.pool, Revoked: revoked}, p)
}

func startServer(t *testing.T, srv *Server, p *testPKI) string {
	t.Helper()
	if err := srv.Prepare(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = srv.TLSConfig(p.server)
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.URL
}

// remoteSigner is cfssl's own remote-signing client (signer/remote), as a
// runner uses it, with a client certificate.
func remoteSigner(t *testing.T, url string, p *testPKI, client tls.Certificate, key string) *remote.Signer {
	t.Helper()
	cfg := fmt.Sprintf(`{"signing": {"default": {"auth_remote": {"remote": "signer", "auth_key": "runners"}}},
		"auth_keys": {"runners": {"type": "standard", "key": %q}}, "remotes": {"signer": %q}}`, key, url)
	c, err := config.LoadConfig([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	c.Signing.SetRemoteCAs(p.pool)
	c.Signing.Default.ClientCert = &client
	s, err := remote.NewSigner(c.Signing)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServerSignsForARunnerThroughCfsslsClient(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	url := startSigner(t, p, &Service{Store: store, Issuer: issuer}, nil)
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	rs := remoteSigner(t, url, p, runnerCert, testHMAC)

	req := cfsigner.SignRequest{Request: csrPEM(t, "ci-42"), Profile: "client"}
	if err := Freshen(&req, time.Now()); err != nil {
		t.Fatal(err)
	}
	certPEM, err := rs.Sign(req)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pemutil.ParseCertificatePEM("cert", certPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(issuer.Cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("the certificate does not verify under the issuing CA: %v", err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows", n)
	}

	// The same bytes again (cfssl's client re-signs the same request with
	// the same HMAC): a replay, refused, nothing recorded.
	if _, err := rs.Sign(req); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("replay: %v", err)
	}
	// Without the nonce (a stock client): refused.
	if _, err := rs.Sign(cfsigner.SignRequest{Request: csrPEM(t, "ci-43"), Profile: "client"}); err == nil || !strings.Contains(err.Error(), "allow-cfssl-clients") {
		t.Fatalf("stock client: %v", err)
	}
	// A wrong HMAC key: refused by cfssl's check, nothing recorded.
	wrong := remoteSigner(t, url, p, runnerCert, strings.Repeat("ab", 16))
	req2 := cfsigner.SignRequest{Request: csrPEM(t, "ci-44"), Profile: "client"}
	Freshen(&req2, time.Now())
	if _, err := wrong.Sign(req2); err == nil || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("wrong key: %v", err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows after the refusals", n)
	}
}

// post sends body to path over a TLS client with the given certificate
// (none when cert is nil) and returns the status, or the handshake error.
func post(t *testing.T, url string, p *testPKI, cert *tls.Certificate, path, body string) (int, string, error) {
	t.Helper()
	cfg := &tls.Config{RootCAs: p.pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	res, err := c.Post(url+path, "application/json", strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), nil
}

func TestServerLockdown(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	var revokedSerial *big.Int
	url := startSigner(t, p, &Service{Store: store, Issuer: issuer}, func(c *x509.Certificate) error {
		if revokedSerial != nil && c.SerialNumber.Cmp(revokedSerial) == 0 {
			return errors.New("revoked on the signer CA's CRL")
		}
		return nil
	})
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	admin := p.leaf(t, "admin-1", &Grant{Role: RoleAdmin}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	noGrant := p.leaf(t, "someone", nil, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	// A certificate with a grant but from another CA (the issuing CA's
	// clients must not reach the signer).
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherTmpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "Other CA"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	otherDER, _ := x509.CreateCertificate(rand.Reader, otherTmpl, otherTmpl, &otherKey.PublicKey, otherKey)
	other, _ := x509.ParseCertificate(otherDER)
	foreign := p.leaf(t, "runner-x", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}}, x509.ExtKeyUsageClientAuth, other, otherKey)

	// No client certificate, or one from another CA: the handshake fails.
	if _, _, err := post(t, url, p, nil, PathHealth, ""); err == nil {
		t.Error("a connection without a client certificate was accepted")
	}
	if _, _, err := post(t, url, p, &foreign, PathInfo, "{}"); err == nil {
		t.Error("a client certificate from another CA was accepted")
	}
	// TLS 1.2 is refused.
	c12 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{runnerCert}, MaxVersion: tls.VersionTLS12}}}
	if _, err := c12.Get(url + PathHealth); err == nil {
		t.Error("TLS 1.2 was accepted")
	}
	// cfssl's other endpoints do not exist, for anyone.
	for _, path := range []string{"/api/v1/cfssl/newcert", "/api/v1/cfssl/certadd", "/api/v1/cfssl/init_ca", "/api/v1/cfssl/gencrl",
		"/api/v1/cfssl/bundle", "/api/v1/cfssl/scan", "/api/v1/cfssl/sign", "/api/v1/cfssl/revoke", "/", "/api/v1/cfssl/authsign/x"} {
		for _, who := range []tls.Certificate{runnerCert, admin} {
			if code, _, err := post(t, url, p, &who, path, "{}"); err != nil || code != http.StatusNotFound {
				t.Errorf("%s as %s: %d %v, want 404", path, who.Leaf.Subject.CommonName, code, err)
			}
		}
	}
	// authsign is a runner's: an admin or a certificate without a grant
	// gets 403 before anything is read.
	for _, who := range []tls.Certificate{admin, noGrant} {
		if code, body, err := post(t, url, p, &who, PathAuthSign, "{}"); err != nil || code != http.StatusForbidden {
			t.Errorf("authsign as %s: %d %s %v, want 403", who.Leaf.Subject.CommonName, code, body, err)
		}
	}
	// info and health answer a runner.
	if code, body, err := post(t, url, p, &runnerCert, PathInfo, `{"profile": "client"}`); err != nil || code != 200 || !strings.Contains(body, "BEGIN CERTIFICATE") {
		t.Errorf("info: %d %s %v", code, body, err)
	}
	// A runner certificate on the signer CA's CRL: refused at the handshake.
	revokedSerial = runnerCert.Leaf.SerialNumber
	if _, _, err := post(t, url, p, &runnerCert, PathInfo, "{}"); err == nil {
		t.Error("a revoked runner certificate was accepted")
	}
	if n := rows(t, store); n != 0 {
		t.Fatalf("%d rows", n)
	}
}

// A body over the bound, or not JSON, is refused before cfssl sees it.
func TestServerRefusesMalformedBodies(t *testing.T) {
	store := openStore(t)
	p := newTestPKI(t)
	url := startSigner(t, p, &Service{Store: store, Issuer: testIssuer(t, cfsslconf.DefaultConfigJSON)}, nil)
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	huge := `{"request": "` + strings.Repeat("A", maxBody) + `"}`
	if code, _, err := post(t, url, p, &runnerCert, PathAuthSign, huge); err != nil || code != http.StatusBadRequest {
		t.Errorf("huge body: %d %v", code, err)
	}
	for _, body := range []string{"nope", `{"token": "x"}`, `{"request": "bm90IGpzb24="}`} {
		if code, _, err := post(t, url, p, &runnerCert, PathAuthSign, body); err != nil || code != http.StatusBadRequest {
			t.Errorf("%s: %d %v", body, code, err)
		}
	}
	// Without the key, nothing of the request is read: a malformed time
	// under a wrong token is "invalid token", not a parser's message.
	probe := base64.StdEncoding.EncodeToString([]byte(`{"metadata": {"mtlsctl_time": "x", "mtlsctl_nonce": "y"}}`))
	if code, body, _ := post(t, url, p, &runnerCert, PathAuthSign, `{"token": "AAAA", "request": "`+probe+`"}`); code != http.StatusBadRequest || !strings.Contains(body, "invalid token") || strings.Contains(body, "RFC 3339") {
		t.Errorf("a probe without the key: %d %s", code, body)
	}
}

// An HMAC key rotation: with the old key as the previous one, runners on
// either key are served; without it, the old key is refused.
func TestHMACKeyRotation(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	newKey := strings.Repeat("cd", 16)
	sign := func(url, key, cn string) error {
		req := cfsigner.SignRequest{Request: csrPEM(t, cn), Profile: "client"}
		Freshen(&req, time.Now())
		_, err := remoteSigner(t, url, p, runnerCert, key).Sign(req)
		return err
	}
	during := startServer(t, &Server{Service: &Service{Store: store, Issuer: issuer}, Open: []string{"client"}, HMACKey: newKey, PrevHMACKey: testHMAC, ClientCAs: p.pool}, p)
	if err := sign(during, testHMAC, "old-key"); err != nil {
		t.Fatalf("the previous key during the rotation: %v", err)
	}
	if err := sign(during, newKey, "new-key"); err != nil {
		t.Fatalf("the new key: %v", err)
	}
	after := startServer(t, &Server{Service: &Service{Store: store, Issuer: issuer}, Open: []string{"client"}, HMACKey: newKey, ClientCAs: p.pool}, p)
	if err := sign(after, testHMAC, "old-again"); err == nil || !strings.Contains(err.Error(), "invalid token") {
		t.Fatalf("the retired key after the rotation: %v", err)
	}
}

// A runner revoked while its connection is kept alive gets nothing more
// on that connection: revocation is checked on every request.
func TestRevocationOnAKeptAliveConnection(t *testing.T) {
	store := openStore(t)
	p := newTestPKI(t)
	var revoked atomic.Bool
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	url := startSigner(t, p, &Service{Store: store, Issuer: testIssuer(t, cfsslconf.DefaultConfigJSON)}, func(c *x509.Certificate) error {
		if revoked.Load() && c.SerialNumber.Cmp(runnerCert.Leaf.SerialNumber) == 0 {
			return errors.New("revoked on the signer CA's CRL")
		}
		return nil
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{runnerCert}}}}
	var conns atomic.Int32
	trace := func() *http.Request {
		req, _ := http.NewRequest(http.MethodPost, url+PathInfo, strings.NewReader(`{"profile": "client"}`))
		return req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{ConnectStart: func(string, string) { conns.Add(1) }}))
	}
	res, err := client.Do(trace())
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("before: %v %v", res, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	revoked.Store(true)
	res, err = client.Do(trace())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if conns.Load() != 1 {
		t.Fatalf("%d connections: the test needs the kept-alive one", conns.Load())
	}
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a revoked runner on its open connection: %d, want 403", res.StatusCode)
	}
}

// What a runner's CSR says beyond the CN (an O a relying party reads as
// a group) never reaches the certificate: the signing host decides it.
func TestRunnerCannotChooseSubjectFields(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}})
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ci-1", Organization: []string{"system:masters"}, OrganizationalUnit: []string{"admins"}}}, key)
	csr := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	for _, host := range []*cfsigner.Subject{nil, {Names: []csrpkg.Name{{O: "Access", OU: "Devices"}}}} {
		svc := &Service{Store: store, Issuer: issuer, Subject: host}
		certPEM, err := svc.Sign(t.Context(), who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csr, Profile: "client"})
		if err != nil {
			t.Fatal(err)
		}
		c, _ := pemutil.ParseCertificatePEM("c", certPEM)
		want := []string(nil)
		if host != nil {
			want = []string{"Access"}
		}
		if c.Subject.CommonName != "ci-1" || strings.Join(c.Subject.Organization, ",") != strings.Join(want, ",") {
			t.Errorf("subject %s with the host's %v", c.Subject, host)
		}
	}
}

// TestRunnerCannotChooseValidityOrExtensions: cfssl's authsign handler
// drops a request's validity, extensions and CRL override before the
// signer's Sign sees it, so they used to be ignored and the certificate
// signed anyway; the signer reads the raw request and refuses them, and
// records nothing. Sent through cfssl's own client, as a runner does.
func TestRunnerCannotChooseValidityOrExtensions(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	url := startSigner(t, p, &Service{Store: store, Issuer: issuer}, nil)
	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	rs := remoteSigner(t, url, p, runnerCert, testHMAC)
	now := time.Now()
	for _, c := range []struct {
		name string
		set  func(*cfsigner.SignRequest)
		want string
	}{
		{"not after", func(r *cfsigner.SignRequest) { r.NotAfter = now.AddDate(20, 0, 0) }, "sets the validity"},
		{"not before", func(r *cfsigner.SignRequest) { r.NotBefore = now.AddDate(0, 0, -1) }, "sets the validity"},
		{"extensions", func(r *cfsigner.SignRequest) {
			r.Extensions = []cfsigner.Extension{{ID: config.OID{2, 5, 29, 19}, Critical: true, Value: "30030101ff"}}
		}, "asks for extensions"},
		{"crl override", func(r *cfsigner.SignRequest) { r.CRLOverride = "http://attacker.example/crl" }, "CRL distribution point"},
	} {
		req := cfsigner.SignRequest{Request: csrPEM(t, "ci-50"), Profile: "client"}
		c.set(&req)
		if err := Freshen(&req, now); err != nil {
			t.Fatal(err)
		}
		if cert, err := rs.Sign(req); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got a certificate (%d bytes) or another error: %v", c.name, len(cert), err)
		}
	}
	if n := rows(t, store); n != 0 {
		t.Fatalf("%d rows after the refusals", n)
	}
	// The same request without them is signed: cfssl's zero values pass.
	req := cfsigner.SignRequest{Request: csrPEM(t, "ci-51"), Profile: "client"}
	Freshen(&req, now)
	if _, err := rs.Sign(req); err != nil {
		t.Fatal(err)
	}
}
