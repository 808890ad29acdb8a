package signer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// The signer's own directory: its CA once (a second init keeps it), the
// server certificate, runner and admin certificates carrying their
// grants (read back, and by OpenSSL), the HMAC key at 0600; then the
// server runs on those files and cfssl's client gets a certificate.
func TestSignerDirectoryEndToEnd(t *testing.T) {
	ctx := context.Background()
	d, err := pkidir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sd, err := OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(ctx, sd); err != nil {
		t.Fatal(err)
	}
	caBefore, _ := os.ReadFile(sd.CA(dirview.RootName).Cert)
	if w, err := InitCA(ctx, sd); err != nil || len(w) != 0 {
		t.Fatalf("second init: %v %v", w, err)
	}
	if caAfter, _ := os.ReadFile(sd.CA(dirview.RootName).Cert); string(caAfter) != string(caBefore) {
		t.Fatal("a second init replaced the signer CA")
	}
	if _, err := IssueServer(ctx, sd, []string{"localhost", "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	g := Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}
	if _, err := IssueGrant(ctx, sd, "runner-1", "runner-1", g, false); err != nil {
		t.Fatal(err)
	}
	if _, err := IssueGrant(ctx, sd, "admin-1", "admin-1", Grant{Role: RoleAdmin}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteHMACKey(sd); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(sd.File(HMACKeyName)); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("hmac.key: %v %v", info, err)
	}
	key, err := LoadHMACKey(sd.File(HMACKeyName), "")
	if err != nil {
		t.Fatal(err)
	}
	runnerPair, err := tls.LoadX509KeyPair(sd.Leaf("runner-1").Cert, sd.Leaf("runner-1").Key)
	if err != nil {
		t.Fatal(err)
	}
	runnerPair.Leaf, _ = x509.ParseCertificate(runnerPair.Certificate[0])
	got, err := GrantOf(runnerPair.Leaf)
	if err != nil || got.Role != RoleRunner || got.CNs[0] != "ci-*" {
		t.Fatalf("grant %+v %v", got, err)
	}
	if _, err := exec.LookPath("openssl"); err == nil {
		out, err := exec.Command("openssl", "x509", "-in", sd.Leaf("runner-1").Cert, "-noout", "-text").CombinedOutput()
		if err != nil || !strings.Contains(string(out), OIDGrant.String()) || !strings.Contains(string(out), "TLS Web Client Authentication") {
			t.Errorf("openssl reads the runner certificate as:\n%s %v", out, err)
		}
		if out, err := exec.Command("openssl", "verify", "-CAfile", sd.CA(dirview.RootName).Cert, "-purpose", "sslclient", sd.Leaf("runner-1").Cert).CombinedOutput(); err != nil {
			t.Errorf("openssl verify: %s", out)
		}
	}

	// The server on these files.
	p := &testPKI{pool: x509.NewCertPool()}
	caPEM, _ := os.ReadFile(sd.CA(dirview.RootName).Cert)
	p.pool.AppendCertsFromPEM(caPEM)
	if p.server, err = tls.LoadX509KeyPair(sd.Leaf(ServerName).Cert, sd.Leaf(ServerName).Key); err != nil {
		t.Fatal(err)
	}
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	srv := &Server{Service: &Service{Store: store, Issuer: issuer}, Open: []string{"client"}, HMACKey: key, ClientCAs: p.pool}
	url := startServer(t, srv, p)
	rs := remoteSigner(t, url, p, runnerPair, key)
	req := cfsigner.SignRequest{Request: csrPEM(t, "ci-1"), Profile: "client"}
	Freshen(&req, time.Now())
	if _, err := rs.Sign(req); err != nil {
		t.Fatal(err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows", n)
	}
}

func TestLoadHMACKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "k")
	os.WriteFile(good, []byte("00112233445566778899aabbccddeeff\n"), 0o600)
	if k, err := LoadHMACKey(good, ""); err != nil || k != "00112233445566778899aabbccddeeff" {
		t.Fatalf("%q %v", k, err)
	}
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("00112233445566778899aabbccddeeff"), 0o644)
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("0011"), 0o600)
	t.Setenv("MTLSCTL_TEST_HMAC", "")
	for file, want := range map[string]string{open: "readable by others", short: "at least 16 bytes", filepath.Join(dir, "none"): "cannot read"} {
		if _, err := LoadHMACKey(file, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", file, err, want)
		}
	}
	if _, err := LoadHMACKey("", "MTLSCTL_TEST_HMAC"); err == nil || !strings.Contains(err.Error(), "no HMAC key") {
		t.Errorf("an empty variable: %v", err)
	}
}
