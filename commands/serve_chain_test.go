package commands

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mint signs a certificate from tmpl with issuer (nil: self-signed) and
// returns it with its key.
func mint(t testing.TB, tmpl *x509.Certificate, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber, _ = rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	if issuer == nil {
		issuer, issuerKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func writePEM(t testing.TB, path, typ string, ders ...[]byte) {
	t.Helper()
	var b []byte
	for _, d := range ders {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tlsCert(key crypto.Signer, chain ...*x509.Certificate) *tls.Certificate {
	c := &tls.Certificate{PrivateKey: key}
	for _, x := range chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// writeCRL writes a CRL of issuer revoking serials, with the given next update.
func writeCRL(t testing.TB, path string, issuer *x509.Certificate, key crypto.Signer, nextUpdate time.Time, serials ...*big.Int) {
	t.Helper()
	tmpl := &x509.RevocationList{Number: big.NewInt(time.Now().UnixNano()), ThisUpdate: time.Now().Add(-2 * time.Hour), NextUpdate: nextUpdate}
	for _, s := range serials {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: time.Now().Add(-time.Hour)})
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, path, "X509 CRL", der)
}

// intermediatePKI is a root (ca.pem, the only --ca) with an intermediate
// recorded in the directory (intermediate.pem) and a leaf under it.
type intermediatePKI struct {
	*testPKI
	inter    *x509.Certificate
	interKey crypto.Signer
	leaf     *x509.Certificate
	leafKey  crypto.Signer
}

func newIntermediatePKI(t testing.TB) *intermediatePKI {
	p := &intermediatePKI{testPKI: newTestPKI(t)}
	p.inter, p.interKey = mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "Test Issuing CA"},
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, SubjectKeyId: []byte{2}}, p.ca, p.caKey)
	writePEM(t, filepath.Join(p.dir, "intermediate.pem"), "CERTIFICATE", p.inter.Raw)
	p.leaf, p.leafKey = mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "device-1"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, p.inter, p.interKey)
	return p
}

// testServer is serve run in process, with its two streams captured.
type testServer struct {
	srv      *server
	addr     string
	out, err *syncBuffer
	cancel   func()
	done     chan error
}

func newTestServer(t testing.TB, o serveOptions) (*testServer, error) {
	t.Helper()
	ts := &testServer{out: &syncBuffer{}, err: &syncBuffer{}}
	if o.addr == "" {
		o.addr = "127.0.0.1:0"
	}
	srv, err := newServer(&ui{out: ts.out, err: ts.err}, nil, o)
	if err != nil {
		return nil, err
	}
	ts.srv, ts.addr = srv, srv.listener.Addr().String()
	return ts, nil
}

func (ts *testServer) start() {
	ctx, cancel := context.WithCancel(context.Background())
	ts.cancel, ts.done = cancel, make(chan error, 1)
	go func() { ts.done <- ts.srv.run(ctx) }()
}

func (ts *testServer) stop(t testing.TB) (stdout, stderr string) {
	t.Helper()
	ts.cancel()
	if err := <-ts.done; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	return ts.out.String(), ts.err.String()
}

func mustServe(t testing.TB, o serveOptions) *testServer {
	t.Helper()
	ts, err := newTestServer(t, o)
	if err != nil {
		t.Fatal(err)
	}
	ts.start()
	return ts
}

// A root-only --ca, and the CRL of an intermediate that chains to
// it: accepted, and enforced; without it the banner names the intermediate.
func TestServeIntermediateCRL(t *testing.T) {
	p := newIntermediatePKI(t)
	rootCRL, interCRL := filepath.Join(p.dir, "ca.crl"), filepath.Join(p.dir, "intermediate.crl")
	writeCRL(t, rootCRL, p.ca, p.caKey, time.Now().Add(24*time.Hour))
	writeCRL(t, interCRL, p.inter, p.interKey, time.Now().Add(24*time.Hour), p.leaf.SerialNumber)
	client := tlsCert(p.leafKey, p.leaf, p.inter)

	// Only the root's CRL: the banner says the intermediate is unchecked.
	ts := mustServe(t, serveOptions{dir: p.dir, caPath: p.caFile, crlPaths: []string{rootCRL}})
	status, _ := get(t, clientFor(client, false), ts.addr)
	out, _ := ts.stop(t)
	if status != 200 {
		t.Errorf("root CRL only: status %d, want 200 (the leaf is not on the root's CRL)", status)
	}
	if !strings.Contains(out, "no CRL given for Test Issuing CA:") {
		t.Errorf("the banner does not name the intermediate whose CRL is not loaded:\n%s", out)
	}

	// With the intermediate's CRL: it starts, and the leaf is revoked.
	ts, err := newTestServer(t, serveOptions{dir: p.dir, caPath: p.caFile, crlPaths: []string{rootCRL, interCRL}})
	if err != nil {
		t.Fatalf("the intermediate's CRL is refused: %v", err)
	}
	ts.start()
	status, body := get(t, clientFor(client, false), ts.addr)
	out, _ = ts.stop(t)
	if status != 403 || body.Reason != "certificate revoked" || body.TLSClientAuth.CertRevoked != "1" {
		t.Errorf("revoked leaf under the intermediate: %d %q revoked=%s, want 403 certificate revoked", status, body.Reason, body.TLSClientAuth.CertRevoked)
	}
	if strings.Contains(out, "no CRL given") {
		t.Errorf("every CA has its CRL, yet:\n%s", out)
	}

	// A CRL of a CA that does not chain to --ca is still refused.
	other := newTestPKI(t)
	otherCRL := filepath.Join(p.dir, "other.crl")
	writeCRL(t, otherCRL, other.ca, other.caKey, time.Now().Add(time.Hour))
	if _, err := newTestServer(t, serveOptions{dir: p.dir, caPath: p.caFile, crlPaths: []string{otherCRL}}); err == nil ||
		!strings.Contains(err.Error(), "does not verify against any CA") {
		t.Errorf("a foreign CRL: %v, want refused", err)
	}
}

// CA certificates, and a leaf that may only sign certificates, are
// not client certificates (openssl verify -purpose sslclient agrees).
func TestServeRefusesCACertificatesAsClients(t *testing.T) {
	p := newIntermediatePKI(t)
	certSignOnly, certSignKey := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "signer"}, KeyUsage: x509.KeyUsageCertSign}, p.ca, p.caKey)
	serverAuth, serverAuthKey := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "srv"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, p.ca, p.caKey)
	noExt, noExtKey := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "plain"}}, p.ca, p.caKey)
	anyEKU, anyEKUKey := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "any"}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}, p.ca, p.caKey)
	ts := mustServe(t, serveOptions{dir: p.dir, caPath: p.caFile})
	cases := []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{
		{"the root", tlsCert(p.caKey, p.ca), 403},
		{"the intermediate", tlsCert(p.interKey, p.inter), 403},
		{"keyCertSign only", tlsCert(certSignKey, certSignOnly), 403},
		{"serverAuth only", tlsCert(serverAuthKey, serverAuth), 403},
		{"no key usage, no EKU", tlsCert(noExtKey, noExt), 200},
		{"anyExtendedKeyUsage", tlsCert(anyEKUKey, anyEKU), 200},
		{"a leaf under the intermediate", tlsCert(p.leafKey, p.leaf, p.inter), 200},
	}
	for _, tc := range cases {
		status, body := get(t, clientFor(tc.cert, false), ts.addr)
		want := "SUCCESS"
		if tc.status != 200 {
			want = "FAILED:unsupported certificate purpose"
		}
		if status != tc.status || body.TLSClientAuth.CertVerified != want {
			t.Errorf("%s: %d %q (%s), want %d %q", tc.name, status, body.TLSClientAuth.CertVerified, body.Reason, tc.status, want)
		}
	}
	out, _ := ts.stop(t)
	if n := strings.Count(out, `reason="unsupported certificate purpose`); n != 4 {
		t.Errorf("%d refusals for purpose in the access log, want 4:\n%s", n, out)
	}
}

// A CRL that disappears is warned about once, not per request; a
// CRL past its next update is warned about.
func TestServeCRLWarnings(t *testing.T) {
	p := newTestPKI(t)
	crl := filepath.Join(p.dir, "ca.crl")
	writeCRL(t, crl, p.ca, p.caKey, time.Now().Add(-time.Minute))
	cert := p.client(t, "ok", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	ts := mustServe(t, serveOptions{dir: p.dir, caPath: p.caFile, crlPaths: []string{crl}})
	os.Remove(crl)
	for range 5 {
		get(t, clientFor(&cert, false), ts.addr)
	}
	_, errOut := ts.stop(t)
	if n := strings.Count(errOut, "ca.crl: cannot read"); n != 1 {
		t.Errorf("%d warnings about the missing CRL for 5 requests, want 1:\n%s", n, errOut)
	}
	if !strings.Contains(errOut, "next update") || !strings.Contains(errOut, "has passed") {
		t.Errorf("no warning that the CRL's next update has passed:\n%s", errOut)
	}
}
