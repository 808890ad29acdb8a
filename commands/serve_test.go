package commands

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/accesssim"
)

// testPKI is a CA on disk plus a way to mint client certificates with
// any validity and usage, for the cases the CLI cannot make.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  crypto.Signer
	caFile string
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	dir := t.TempDir()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: x509pkix.Name{CommonName: "Test Root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, BasicConstraintsValid: true, IsCA: true, SubjectKeyId: []byte{1}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: dir, ca: ca, caKey: key, caFile: filepath.Join(dir, "ca.pem")}
	os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	return p
}

func (p *testPKI) client(t testing.TB, cn string, notBefore, notAfter time.Time, eku x509.ExtKeyUsage) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: x509pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{eku}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, key.Public(), p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// startServer runs serve in process on a free loopback port.
func startServer(t testing.TB, p *testPKI) (addr string, stop func()) {
	t.Helper()
	var log syncBuffer
	u := &ui{out: &log, err: io.Discard}
	srv, err := newServer(u, nil, serveOptions{dir: p.dir, caPath: p.caFile, addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.run(ctx) }()
	return srv.listener.Addr().String(), func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}

// syncBuffer is a bytes.Buffer that a server or a child process writes
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func clientFor(cert *tls.Certificate, keepAlive bool) *http.Client {
	cfg := &tls.Config{InsecureSkipVerify: true} // the server certificate is a throwaway one
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 256}}
}

func get(t testing.TB, c *http.Client, addr string) (int, accesssim.Response) {
	t.Helper()
	res, err := c.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body accesssim.Response
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

// The cases curl cannot easily make: certificates expired, not yet valid,
// or without clientAuth, each refused with Access's certVerified wording.
func TestServeRefusesInvalidCertificates(t *testing.T) {
	p := newTestPKI(t)
	addr, stop := startServer(t, p)
	defer stop()
	now := time.Now()
	cases := []struct {
		name     string
		cert     tls.Certificate
		status   int
		verified string
	}{
		{"valid", p.client(t, "ok", now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageClientAuth), 200, "SUCCESS"},
		{"expired", p.client(t, "old", now.Add(-48*time.Hour), now.Add(-time.Hour), x509.ExtKeyUsageClientAuth), 403, "FAILED:certificate has expired"},
		{"not yet valid", p.client(t, "new", now.Add(time.Hour), now.Add(2*time.Hour), x509.ExtKeyUsageClientAuth), 403, "FAILED:certificate is not yet valid"},
		{"server auth only", p.client(t, "srv", now.Add(-time.Hour), now.Add(time.Hour), x509.ExtKeyUsageServerAuth), 403, "FAILED:unsupported certificate purpose"},
	}
	for _, tc := range cases {
		status, body := get(t, clientFor(&tc.cert, false), addr)
		if status != tc.status || body.TLSClientAuth.CertVerified != tc.verified || body.TLSClientAuth.CertPresented != "1" {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, body.TLSClientAuth.CertVerified, tc.status, tc.verified)
		}
	}
}

// Load on loopback: 200 concurrent clients doing fresh mTLS handshakes and
// requests for a bounded time. No request may fail, and once the server is
// shut down no goroutine of it may be left.
func TestServeUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	p := newTestPKI(t)
	cert := p.client(t, "load", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	before := runtime.NumGoroutine()
	addr, stop := startServer(t, p)
	const clients = 200
	deadline := time.Now().Add(3 * time.Second)
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFor(&cert, false) // a new handshake for every request
			defer c.CloseIdleConnections()
			for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
				res, err := c.Get("https://" + addr + "/")
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if err != nil || res.StatusCode != 200 {
					failed.Add(1)
					if err == nil {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	if failed.Load() > 0 {
		t.Errorf("%d of %d requests failed, first: %v", failed.Load(), failed.Load()+ok.Load(), firstErr.Load())
	}
	if ok.Load() < clients {
		t.Errorf("only %d requests succeeded", ok.Load())
	}
	t.Logf("%d requests from %d concurrent clients in 3 s", ok.Load(), clients)
	// Goroutines wind down asynchronously after Shutdown; give them a moment.
	for i := 0; i < 100 && runtime.NumGoroutine() > before+2; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after shutdown, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

// BenchmarkServeHandshake: full mTLS handshakes plus one request each
// (no keep-alive), from parallel clients; ns/op is per handshake.
func BenchmarkServeHandshake(b *testing.B) {
	p := newTestPKI(b)
	cert := p.client(b, "bench", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	addr, stop := startServer(b, p)
	defer stop()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := clientFor(&cert, false)
		for pb.Next() {
			res, err := c.Get("https://" + addr + "/")
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// What --addr-file may replace: serve's own one-line host:port (any earlier
// run's), or an empty file (mktemp's); nothing else.
func TestServeAddrFileRecognition(t *testing.T) {
	for content, want := range map[string]bool{
		"":                       true,
		"127.0.0.1:8443\n":       true,
		"127.0.0.1:0":            true,
		"[::1]:43211\n":          true,
		"[fe80::1%eth0]:443\n":   true,
		"localhost:9443\n":       true,
		"127.0.0.1:65536\n":      false,
		"127.0.0.1\n":            false,
		":8443\n":                false,
		"127.0.0.1:8443\n\n":     false,
		"127.0.0.1:8443\r\n":     false,
		"127.0.0.1:8443\nmore\n": false,
		"host name:1\n":          false,
		"\n":                     false,
		"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n": false,
		"a:1" + string(make([]byte, 400)):                                              false,
	} {
		if got := isAddrFile([]byte(content)); got != want {
			t.Errorf("isAddrFile(%q) = %v, want %v", content, got, want)
		}
	}
}

func TestNoColorSet(t *testing.T) {
	for _, tc := range []struct {
		value   string
		present bool
		want    bool
	}{{"", false, false}, {"", true, false}, {"1", true, true}, {"false", true, true}} {
		if got := noColorSet(tc.value, tc.present); got != tc.want {
			t.Errorf("NO_COLOR=%q (present %v): %v, want %v", tc.value, tc.present, got, tc.want)
		}
	}
}
