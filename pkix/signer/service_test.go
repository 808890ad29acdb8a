package signer

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/cfssl/config"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

func testIssuer(t *testing.T, configJSON string) *ca.Issuer {
	t.Helper()
	req, err := cfsslconf.LoadRequest("ca-csr.json", []byte(cfsslconf.DefaultCARequestJSON), cfsslconf.CARequest)
	if err != nil {
		t.Fatal(err)
	}
	req.CR.KeyRequest, _ = cfsslconf.ParseKeyType("ecdsa-256")
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(configJSON))
	if err != nil {
		t.Fatal(err)
	}
	root, _, err := ca.InitCA(req, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := pemutil.ParseKeyPEM("ca-key.pem", root.KeyPEM)
	is, err := ca.NewIssuer("ca.pem", root.Cert, "ca-key.pem", key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func csrPEM(t *testing.T, cn string, dns ...string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// runner is a runner certificate with grant g (self-signed here: the
// service trusts the Runner it is given; the TLS layer verifies it).
func runner(t *testing.T, g Grant) Runner {
	t.Helper()
	ext, err := g.Extension()
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: "runner-1"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtraExtensions: []pkix.Extension{ext}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	got, err := GrantOf(c)
	if err != nil {
		t.Fatal(err)
	}
	return Runner{Cert: c, Grant: got}
}

func freshness(t *testing.T, now time.Time) Freshness {
	t.Helper()
	req := cfsigner.SignRequest{}
	if err := Freshen(&req, now); err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(req)
	f, err := ReadFreshness(raw)
	if err != nil || !f.Stamped {
		t.Fatalf("%+v %v", f, err)
	}
	return f
}

func rows(t *testing.T, s *Store) int {
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM certificates`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestServiceSignsAndRecords(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	svc := &Service{Store: store, Issuer: testIssuer(t, cfsslconf.DefaultConfigJSON)}
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}})
	f := freshness(t, time.Now())
	certPEM, err := svc.Sign(ctx, who, f, cfsigner.SignRequest{Request: csrPEM(t, "ci-7"), Profile: "client", Hosts: []string{""}})
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pemutil.ParseCertificatePEM("cert", certPEM)
	if err != nil {
		t.Fatal(err)
	}
	var meta, status string
	if err := store.DB().QueryRow(`SELECT metadata::text, status FROM certificates WHERE serial_number = $1`, []byte(cert.SerialNumber.String())).Scan(&meta, &status); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta, "CN=runner-1 serial=4D") || status != "good" {
		t.Errorf("row: %s %s", meta, status)
	}
	// The same request again (captured and replayed): refused, nothing new.
	_, err = svc.Sign(ctx, who, f, cfsigner.SignRequest{Request: csrPEM(t, "ci-8"), Profile: "client"})
	var re *RequestError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "replay") {
		t.Fatalf("replay: %v", err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows after the replay", n)
	}
}

// Every way a runner might widen its grant, or slip past freshness, is
// refused with nothing signed.
func TestServiceRefusals(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	svc := &Service{Store: store, Issuer: testIssuer(t, cfsslconf.DefaultConfigJSON)}
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}})
	admin := runner(t, Grant{Role: RoleAdmin})
	now := time.Now()
	ok := func() cfsigner.SignRequest {
		return cfsigner.SignRequest{Request: csrPEM(t, "ci-1"), Profile: "client"}
	}
	cases := []struct {
		name  string
		who   Runner
		fresh Freshness
		req   func() cfsigner.SignRequest
		want  string
	}{
		{"stale", who, freshness(t, now.Add(-3*time.Minute)), ok, "more than 2m0s"},
		{"future", who, freshness(t, now.Add(3*time.Minute)), ok, "more than 2m0s"},
		{"stock cfssl client", who, Freshness{}, ok, "--allow-cfssl-clients"},
		{"admin asks", admin, freshness(t, now), ok, "not a runner's"},
		{"CN outside the grant", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "prod-db"), Profile: "client"}
		}, `CN "prod-db" matches none`},
		{"CN override outside the grant", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-1"), Profile: "client", Subject: &cfsigner.Subject{CN: "admin"}}
		}, `CN "admin" matches none`},
		{"CN with a DN metacharacter", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-x,O=system:masters"), Profile: "client"}
		}, "part of a DN's syntax"},
		{"CN override with a DN metacharacter", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-1"), Profile: "client", Subject: &cfsigner.Subject{CN: "ci-x+O=system:masters"}}
		}, "part of a DN's syntax"},
		{"CN ending in a Hangul filler", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-x\u3164"), Profile: "client"}
		}, "U+3164"},
		{"CN ending in a Braille blank", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-x\u2800"), Profile: "client"}
		}, "U+2800"},
		{"profile not granted", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: csrPEM(t, "ci-1"), Profile: "server"}
		}, "profile"},
		{"serial chosen", who, freshness(t, now), func() cfsigner.SignRequest {
			r := ok()
			r.Serial = big.NewInt(1)
			return r
		}, "chooses serials"},
		{"host asked", who, freshness(t, now), func() cfsigner.SignRequest {
			r := ok()
			r.Hosts = []string{"evil.example.com"}
			return r
		}, "carry no hosts"},
		{"validity chosen", who, freshness(t, now), func() cfsigner.SignRequest {
			r := ok()
			r.NotAfter = now.Add(100 * 365 * 24 * time.Hour)
			return r
		}, "validity"},
		{"extension asked", who, freshness(t, now), func() cfsigner.SignRequest {
			r := ok()
			r.Extensions = []cfsigner.Extension{{ID: config.OID(asn1.ObjectIdentifier{2, 5, 29, 19}), Critical: true, Value: "3003010101"}}
			return r
		}, "extensions"},
		{"another CA label", who, freshness(t, now), func() cfsigner.SignRequest {
			r := ok()
			r.Label = "other"
			return r
		}, "label"},
		{"not a CSR", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: "hello", Profile: "client"}
		}, "certificate_request"},
		{"a CSR whose signature is not its key's", who, freshness(t, now), func() cfsigner.SignRequest {
			return cfsigner.SignRequest{Request: tamperedCSR(t, "ci-1"), Profile: "client"}
		}, "signing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.Sign(ctx, c.who, c.fresh, c.req())
			var re *RequestError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a refusal containing %q", err, c.want)
			}
		})
	}
	if n := rows(t, store); n != 0 {
		t.Fatalf("%d rows recorded by refused requests", n)
	}
	// With --allow-cfssl-clients, a stock client's request is signed.
	svc.AllowCfsslClients = true
	if _, err := svc.Sign(ctx, who, Freshness{}, ok()); err != nil {
		t.Fatal(err)
	}
}

// A CA profile, or one without clientAuth, stops the signer from
// starting: a runner could name it.
func TestCheckProfiles(t *testing.T) {
	cfg := testIssuer(t, cfsslconf.DefaultConfigJSON).Config
	if err := CheckProfiles(cfg, []string{"client"}); err != nil {
		t.Fatalf("the default client profile: %v", err)
	}
	if err := CheckProfiles(cfg, []string{"client", "server"}); err == nil || !strings.Contains(err.Error(), `profile "server" lacks "client auth"`) {
		t.Errorf("server profile: %v", err)
	}
	ca, err := cfsslconf.LoadSigningConfig("c.json", []byte(`{"signing": {"default": {"expiry": "8760h"}, "profiles": {"client": {"usages": ["digital signature", "client auth"], "expiry": "8760h"}, "sub": {"usages": ["cert sign", "crl sign", "client auth"], "expiry": "8760h", "ca_constraint": {"is_ca": true}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckProfiles(ca, []string{"sub"}); err == nil || !strings.Contains(err.Error(), `profile "sub" makes CA certificates`) {
		t.Errorf("CA profile: %v", err)
	}
	if err := CheckProfiles(cfg, []string{"nope"}); err == nil {
		t.Error("an unknown profile was accepted")
	}
}

// While PostgreSQL is down the signer refuses, and hands out nothing
// unrecorded; once it is back, the same runner is served.
func TestServiceRefusesWhileTheDatabaseIsDown(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	svc := &Service{Store: store, Issuer: testIssuer(t, cfsslconf.DefaultConfigJSON)}
	who := runner(t, Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"*"}})
	stopDatabase(t)
	cert, err := svc.Sign(ctx, who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csrPEM(t, "a"), Profile: "client"})
	startDatabase(t)
	if err == nil || cert != nil {
		t.Fatalf("signed while the database was down: %v", err)
	}
	if !strings.Contains(err.Error(), "could not be recorded, so it is not handed out") {
		t.Errorf("err = %v", err)
	}
	if _, err := svc.Sign(ctx, who, freshness(t, time.Now()), cfsigner.SignRequest{Request: csrPEM(t, "a"), Profile: "client"}); err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	if n := rows(t, store); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
}

// tamperedCSR is a request for cn whose signature was made over other
// bytes (the subject changed after signing).
func tamperedCSR(t *testing.T, cn string) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ci-X"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(der, []byte("ci-X"))
	der[i+3] = cn[3]
	if c, err := x509.ParseCertificateRequest(der); err != nil || c.CheckSignature() == nil {
		t.Fatalf("the tampered request still verifies (%v)", err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}
