package cloudflare

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

func TestCheckBaseURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.cloudflare.com/client/v4": true,
		"https://proxy.internal:8443/cf":       true,
		"http://127.0.0.1:8080/client/v4":      true,
		"http://127.9.9.9/client/v4":           true,
		"http://[::1]:9000/client/v4":          true,
		"http://localhost:9000":                true,
		"http://api.cloudflare.com/client/v4":  false, // the token in the clear
		"http://10.0.0.1/client/v4":            false,
		"http://localhost.evil.example/":       false,
		"https://user:pw@api.example.com/":     false,
		"ftp://api.example.com/":               false,
		"api.cloudflare.com/client/v4":         false,
		"":                                     false,
	} {
		if _, err := CheckBaseURL(raw); (err == nil) != ok {
			t.Errorf("CheckBaseURL(%q): %v, want ok=%v", raw, err, ok)
		}
	}
}

func TestNormalizeFingerprint(t *testing.T) {
	want := "1E800F7AFD315596DED5CBE2F091F691"
	for _, in := range []string{
		"MD5 Fingerprint=1E:80:0F:7A:FD:31:55:96:DE:D5:CB:E2:F0:91:F6:91", // the schema's example
		"1e:80:0f:7a:fd:31:55:96:de:d5:cb:e2:f0:91:f6:91",
		"1E800F7AFD315596DED5CBE2F091F691",
		"md5=1e800f7afd315596ded5cbe2f091f691",
	} {
		if got := NormalizeFingerprint(in); got != want {
			t.Errorf("NormalizeFingerprint(%q) = %q", in, got)
		}
	}
}

func testCA(t *testing.T, cn string) (*x509.Certificate, string) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestUploadMatchesTheAPIsFingerprint(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	ca, pemCA := testCA(t, "Test CA")
	if _, err := s.AddCert("uploaded by hand", pemCA, "auth.example.com"); err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, s, nil)
	res, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "unchanged" || len(s.Writes()) != 0 || res.Certificate.Name != "uploaded by hand" {
		t.Fatalf("%+v, %d writes: the hand-uploaded CA should be recognised by its MD5 fingerprint", res, len(s.Writes()))
	}
}

// A create that fails on Cloudflare's side after it happened is not
// retried blindly (that could make a second certificate): the list is
// read again and the certificate found.
func TestCreateFailingAfterItHappened(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.AddFault(cloudflaretest.Fault{Method: http.MethodPost, Path: `/access/certificates$`, Status: 502, Times: 1, After: true})
	ca, _ := testCA(t, "Test CA")
	c := newTestClient(t, s, nil)
	res, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}, Hostnames: []string{"auth.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Certs) != 1 || res.Certificate.ID != s.Certs[0].ID {
		t.Fatalf("%d certificates, result %+v", len(s.Certs), res.Certificate)
	}
	posts := 0
	for _, w := range s.Writes() {
		if w.Method == http.MethodPost {
			posts++
		}
	}
	if posts != 1 {
		t.Fatalf("%d creates sent, want 1", posts)
	}
}

// A 5xx on a create that did not happen is reported, not retried: the
// next run looks first.
func TestCreateFailingBeforeItHappened(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.Fail(http.MethodPost, `/access/certificates$`, 500, 1, "")
	ca, _ := testCA(t, "Test CA")
	c := newTestClient(t, s, nil)
	_, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}})
	var ae *ApplyError
	if !errors.As(err, &ae) || ae.Partial() || len(ae.NotApplied) != 1 {
		t.Fatalf("err %v: want nothing applied, the create not applied", err)
	}
	if len(s.Certs) != 0 {
		t.Fatal("a certificate was created")
	}
}

func TestRetriesIdempotentRequestsOnly(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.Fail(http.MethodGet, `/access/certificates$`, 503, 2, "")
	s.Fail(http.MethodPut, `/settings$`, 500, 1, "")
	_, pemCA := testCA(t, "Test CA")
	s.AddCert("ca", pemCA, "auth.example.com")
	var log bytes.Buffer
	c := newTestClient(t, s, func(cfg *Config) { cfg.Log = &log })
	on := true
	res, err := c.SetForwarding(context.Background(), ForwardingChange{Hostname: "auth.example.com", Forwarding: &on})
	if err != nil || res.Status != "changed" {
		t.Fatalf("%+v %v", res, err)
	}
	if n := strings.Count(log.String(), "retrying in"); n != 3 {
		t.Fatalf("%d retries said, want 3:\n%s", n, log.String())
	}
	if !s.Settings[0].Forwarding {
		t.Fatal("forwarding not set")
	}
}

func TestRetryAfterBoundsAndDates(t *testing.T) {
	c := &Client{cfg: Config{RetryBase: time.Second, MaxWait: time.Minute}}
	res := func(v string) *http.Response { return &http.Response{Header: http.Header{"Retry-After": []string{v}}} }
	if d, ok := c.backoff(res("7"), 0); !ok || d != 7*time.Second {
		t.Errorf("Retry-After 7: %v %v", d, ok)
	}
	if d, ok := c.backoff(res(time.Now().Add(20*time.Second).UTC().Format(http.TimeFormat)), 0); !ok || d < 18*time.Second || d > 20*time.Second {
		t.Errorf("Retry-After as a date 20 s ahead: %v %v", d, ok)
	}
	if _, ok := c.backoff(res("3600"), 0); ok {
		t.Error("an hour's Retry-After was accepted: the command would hang")
	}
	for attempt := 0; attempt < 4; attempt++ {
		d, _ := c.backoff(nil, attempt)
		base := time.Second << attempt
		if d > base || d < base*3/4 {
			t.Errorf("attempt %d: backoff %v outside [%v, %v]", attempt, d, base*3/4, base)
		}
	}
}

func TestListSurvivesServerIgnoringPage(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.IgnorePage = true
	for i := 0; i < 30; i++ {
		_, p := testCA(t, "CA")
		s.AddCert("ca", p)
	}
	c := newTestClient(t, s, nil)
	all, err := c.Certificates(context.Background())
	if err != nil || len(all) != 30 {
		t.Fatalf("%d certificates, %v: want the 30 of the one page the server gives, and an end", len(all), err)
	}
	// Past one page, a server ignoring "page" cannot list them all:
	// TestCertificateListShortOfItsCountFails.
	for i := 0; i < 40; i++ {
		_, p := testCA(t, "CA")
		s.AddCert("ca", p)
	}
	s.IgnorePage = false
	all, err = c.Certificates(context.Background())
	if err != nil || len(all) != 70 {
		t.Fatalf("%d certificates, %v: want all 70 over two pages", len(all), err)
	}
}

func TestDryRunSendsNoWrite(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
	ca, _ := testCA(t, "Test CA")
	var log bytes.Buffer
	c := newTestClient(t, s, func(cfg *Config) { cfg.DryRun, cfg.Log = true, &log })
	if _, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}, Name: "x"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Push(context.Background(), pushRequest(30)); err != nil {
		t.Fatal(err)
	}
	if w := s.Writes(); len(w) != 0 {
		t.Fatalf("dry run sent %v", w)
	}
	for _, want := range []string{"dry run: POST /accounts/" + cloudflaretest.Account + "/access/certificates", "dry run: PUT /accounts/" + cloudflaretest.Account + "/storage/kv/namespaces/ns/bulk"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("dry run output lacks %q:\n%s", want, log.String())
		}
	}
}

// An error message that echoes the Authorization header never prints
// the token.
func TestTokenRedactedFromAPIErrors(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.AddFault(cloudflaretest.Fault{Method: http.MethodGet, Path: `/access/certificates$`, Status: 400, Times: 1, Message: "bad header: $AUTH"})
	var log bytes.Buffer
	c := newTestClient(t, s, func(cfg *Config) { cfg.Log, cfg.Verbose = &log, true })
	_, err := c.Certificates(context.Background())
	if err == nil || strings.Contains(err.Error(), cloudflaretest.Token) || strings.Contains(log.String(), cloudflaretest.Token) {
		t.Fatalf("token shown: %v\n%s", err, log.String())
	}
	if !strings.Contains(err.Error(), "bad header: Bearer [token redacted]") {
		t.Fatalf("error %v: want the message with the token redacted", err)
	}
}

func TestNoEnvironmentCredentialsSent(t *testing.T) {
	t.Setenv("CLOUDFLARE_API_KEY", "global-key")
	t.Setenv("CLOUDFLARE_EMAIL", "admin@example.com")
	t.Setenv("CLOUDFLARE_API_USER_SERVICE_KEY", "v1.0-service")
	s := cloudflaretest.NewPlain()
	defer s.Close()
	c := newTestClient(t, s, nil)
	if _, err := c.Certificates(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Log {
		for _, h := range []string{"X-Auth-Key", "X-Auth-Email", "X-Auth-User-Service-Key"} {
			if r.Header.Get(h) != "" {
				t.Fatalf("%s sent with %s", h, r.Path)
			}
		}
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	target := cloudflaretest.NewPlain()
	defer target.Close()
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.Config.Handler = http.RedirectHandler(target.BaseURL()+"/accounts/x/access/certificates", http.StatusTemporaryRedirect)
	c := newTestClient(t, s, nil)
	if _, err := c.Certificates(context.Background()); err == nil {
		t.Fatal("a redirect was followed")
	}
	if len(target.Log) != 0 {
		t.Fatal("the redirect's target got the request (and the token)")
	}
}

// A proxy's HTML error page keeps its status in the error, not a JSON
// parse failure.
func TestNonJSONErrorKeepsStatus(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1>\x1b[31m</body></html>"))
	})
	c := newTestClient(t, s, func(cfg *Config) { cfg.Retries = -1 })
	_, err := c.Certificates(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway || !strings.Contains(ae.Message, "not an API response (text/html): <html><body><h1>502 Bad Gateway</h1>") || strings.Contains(ae.Message, "\x1b") {
		t.Fatalf("%#v", err)
	}
}

// What the SDK would take as success but is not: a redirect (never
// followed, so nothing happened) and a 200 whose envelope says
// "success": false.
func TestNotSuccessIsAnError(t *testing.T) {
	for name, f := range map[string]cloudflaretest.Fault{
		"redirect":      {Status: http.StatusFound, Location: "http://127.0.0.1:1/"},
		"success false": {Status: http.StatusOK, Message: "quota exceeded"},
	} {
		t.Run(name, func(t *testing.T) {
			s := cloudflaretest.NewPlain()
			defer s.Close()
			s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
			f.Method, f.Path, f.Times = http.MethodPut, `/bulk$`, 1
			s.AddFault(f)
			c := newTestClient(t, s, nil)
			res, err := c.Push(context.Background(), pushRequest(5))
			var ae *ApplyError
			if !errors.As(err, &ae) || ae.Partial() || len(ae.NotApplied) != 2 {
				t.Fatalf("%+v, %v: want nothing applied", res, err)
			}
			var api *APIError
			if !errors.As(err, &api) || api.Status != f.Status {
				t.Fatalf("%v: want the status %d", err, f.Status)
			}
		})
	}
}

// A write whose answer is cut short may have been applied: said, and
// counted as partly done.
func TestUnreadableAnswerToAWriteIsUncertain(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	_, pemCA := testCA(t, "CA")
	ct, _ := s.AddCert("ca", pemCA, "auth.example.com")
	s.AddFault(cloudflaretest.Fault{Method: http.MethodPut, Path: `/access/certificates/`, Status: 200, Times: 1, After: true, Truncate: true})
	c := newTestClient(t, s, nil)
	_, err := c.Delete(context.Background(), ct.ID, true)
	var ae *ApplyError
	if !errors.As(err, &ae) || !ae.Partial() || ae.Uncertain == "" || !strings.Contains(err.Error(), "may or may not have been applied") {
		t.Fatalf("%v: want the hostname clearing named as uncertain", err)
	}
	if len(s.Certs[0].Hostnames) != 0 {
		t.Fatal("the fake did not apply it (test set-up)")
	}
}

// The settings are written back whole, so every page is read first.
func TestForwardingReadsEverySettingsPage(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.SettingsPerPage = 20
	_, pemCA := testCA(t, "CA")
	s.AddCert("ca", pemCA, "auth.example.com")
	for i := 0; i < 61; i++ {
		s.Settings = append(s.Settings, cloudflaretest.Setting{Hostname: "h" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + ".example.com", Forwarding: true})
	}
	want := len(s.Settings)
	c := newTestClient(t, s, nil)
	on := true
	if _, err := c.SetForwarding(context.Background(), ForwardingChange{Hostname: "auth.example.com", Forwarding: &on}); err != nil {
		t.Fatal(err)
	}
	if len(s.Settings) < want {
		t.Fatalf("%d settings after the write, %d before: others were dropped", len(s.Settings), want)
	}
}

// A server whose settings pages never advance (it ignores page) while
// result_info counts more than it lists: nothing is written, since the
// whole list is written back and a partial one drops the others.
func TestForwardingRefusesAnIncompleteSettingsList(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.SettingsPerPage, s.IgnorePage = 20, true
	_, pemCA := testCA(t, "CA")
	s.AddCert("ca", pemCA, "auth.example.com")
	for i := 0; i < 61; i++ {
		s.Settings = append(s.Settings, cloudflaretest.Setting{Hostname: fmt.Sprintf("h%02d.example.com", i), Forwarding: true})
	}
	before := append([]cloudflaretest.Setting{}, s.Settings...)
	c := newTestClient(t, s, nil)
	on := true
	_, err := c.SetForwarding(context.Background(), ForwardingChange{Hostname: "auth.example.com", Forwarding: &on})
	if err == nil || !strings.Contains(err.Error(), "the API counts 61 hostname settings but lists 20") {
		t.Fatalf("err = %v", err)
	}
	if !slices.Equal(s.Settings, before) {
		t.Error("the settings were written")
	}
}

func TestTokenRedactedFromEchoingHeaders(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.EchoAuthInRay = true
	var log bytes.Buffer
	c := newTestClient(t, s, func(cfg *Config) { cfg.Log, cfg.Verbose = &log, true })
	if _, err := c.Certificates(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), cloudflaretest.Token) || !strings.Contains(log.String(), "[token redacted]") {
		t.Fatalf("verbose log:\n%s", log.String())
	}
}

func TestKVListFollowsTheCursorPastEmptyPages(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{"mtlsctl:rev:AB:FF": {Value: "stale"}}
	s.KeysPageLimit = 10
	s.KeysEmptyFirst = true
	c := newTestClient(t, s, nil)
	res, err := c.Push(context.Background(), pushRequest(25))
	if err != nil || res.Deleted != 1 {
		t.Fatalf("%+v %v: the stale key past an empty page should go", res, err)
	}
	s.KeysLoop = true
	if _, err := c.Push(context.Background(), pushRequest(25)); err == nil || !strings.Contains(err.Error(), "would never end") {
		t.Fatalf("%v: a looping cursor must stop the push", err)
	}
}
