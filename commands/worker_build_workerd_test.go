package commands

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The generated Worker, run in workerd (Cloudflare's own Workers runtime)
// with its KV data, fed the tlsClientAuth fields of real certificates as
// `mtlsctl inspect --json` gives them: it refuses exactly what the CRLs
// revoke, and everything under a revoked CA.

// workerdBinary finds workerd: MTLSCTL_WORKERD (set by .ci/run), PATH,
// or .ci/run's cache.
func workerdBinary(t *testing.T) string {
	t.Helper()
	return npmTool(t, "MTLSCTL_WORKERD", "workerd", "workerd")
}

// clientAuth is what Cloudflare puts in request.cf.tlsClientAuth for a
// certificate file, from mtlsctl inspect --json.
func clientAuth(t testing.TB, dir, file string) map[string]string {
	t.Helper()
	out := must(t, dir, "inspect", "--json", file)
	var doc struct {
		Certificates []struct {
			Access map[string]string `json:"access"`
		} `json:"certificates"`
	}
	line, _, _ := strings.Cut(out, "\n")
	if err := json.Unmarshal([]byte(line), &doc); err != nil || len(doc.Certificates) == 0 {
		t.Fatalf("inspect --json %s: %v\n%s", file, err, out)
	}
	a := doc.Certificates[0].Access
	a["certPresented"], a["certVerified"], a["certRevoked"] = "1", "SUCCESS", "0"
	return a
}

type workerd struct {
	url     string
	cmd     *exec.Cmd
	kvReads atomic.Int64
}

// startWorkerd runs the Worker in workerDir with the KV data it was built
// with (one file per key: workerd's disk service serves a kvNamespace),
// request.cf taken from the cf-blob header, and fetch() going to origin.
func startWorkerd(t testing.TB, bin, workerDir, origin string) *workerd {
	t.Helper()
	// The KV namespace is served by a local service that counts reads:
	// workerd's kvNamespace binding asks it GET /<key> (as its disk
	// service would answer from one file per key).
	values := map[string]string{}
	if data, err := os.ReadFile(filepath.Join(workerDir, "revoked.kv.json")); err == nil {
		var pairs []struct{ Key, Value string }
		if err := json.Unmarshal(data, &pairs); err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			values[p.Key] = p.Value
		}
	}
	w := &workerd{}
	kv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.kvReads.Add(1)
		key, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/"))
		v, ok := values[key]
		if err != nil || !ok {
			http.NotFound(rw, r)
			return
		}
		io.WriteString(rw, v)
	}))
	t.Cleanup(kv.Close)
	port := freePort(t)
	config := fmt.Sprintf(`using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = .w),
    (name = "kv", external = (address = %q, http = ())),
    (name = "origin", external = (address = %q, http = ())),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:%d", http = (cfBlobHeader = "cf-blob"), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2024-09-01",
  bindings = [ (name = "REVOKED", kvNamespace = "kv") ],
  globalOutbound = "origin",
);
`, strings.TrimPrefix(kv.URL, "http://"), strings.TrimPrefix(origin, "http://"), port)
	// workerd embeds files by a path relative to its config file.
	cfgDir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(workerDir, "worker.js"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cfgDir, "worker.js"), script, 0o644)
	cfg := filepath.Join(cfgDir, "config.capnp")
	os.WriteFile(cfg, []byte(config), 0o644)
	cmd := exec.Command(bin, "serve", cfg)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	w.url, w.cmd = fmt.Sprintf("http://127.0.0.1:%d/", port), cmd
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return w
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("workerd did not start:\n%s", logs.String())
	return nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ask sends one request as Cloudflare would, with auth as tlsClientAuth
// (nil: no client certificate), and returns the status and body.
func (w *workerd) ask(t testing.TB, auth map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", w.url, nil)
	cf := map[string]any{"tlsClientAuth": map[string]string{"certPresented": "0", "certVerified": "NONE"}}
	if auth != nil {
		cf["tlsClientAuth"] = auth
	}
	blob, _ := json.Marshal(cf)
	req.Header.Set("cf-blob", string(blob))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(bufio.NewReader(resp.Body))
	return resp.StatusCode, string(body)
}

func with(a map[string]string, k, v string) map[string]string {
	b := map[string]string{}
	for key, val := range a {
		b[key] = val
	}
	b[k] = v
	return b
}

func TestWorkerInWorkerd(t *testing.T) {
	bin := workerdBinary(t)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin") }))
	defer origin.Close()

	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	must(t, dir, "ca", "intermediate", "--cn", "Issuing", "--key-type", "ecdsa-256")
	must(t, dir, "ca", "intermediate", "--cn", "Doomed", "--name", "doomed", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--issuer", "ca", "--cn", "r1", "--cn", "r2", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--issuer", "intermediate", "--cn", "i1", "--cn", "i2", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--issuer", "doomed", "--cn", "d1", "--key-type", "ecdsa-256")
	must(t, dir, "client", "revoke", "r1", "--reason", "keyCompromise", "--crl")
	must(t, dir, "client", "revoke", "i1", "--crl")
	doomed := clientAuth(t, dir, "doomed.pem")
	must(t, dir, "client", "revoke", "--serial", doomed["certSerial"], "--crl")

	r1, r2 := clientAuth(t, dir, "r1.pem"), clientAuth(t, dir, "r2.pem")
	i1, i2 := clientAuth(t, dir, "i1.pem"), clientAuth(t, dir, "i2.pem")
	d1 := clientAuth(t, dir, "d1.pem")
	cases := []struct {
		name string
		auth map[string]string
		want int
	}{
		{"valid under the root", r2, 200},
		{"valid under the intermediate", i2, 200},
		{"revoked by the root's CRL", r1, 403},
		{"revoked by the intermediate's CRL", i1, 403},
		{"issued by a revoked intermediate", d1, 403},
		{"a revoked serial under another CA", with(r2, "certSerial", i1["certSerial"]), 200},
		{"zero-padded serial of a revoked certificate", with(r1, "certSerial", "00"+r1["certSerial"]), 403},
		{"lower-case serial of a revoked certificate", with(r1, "certSerial", strings.ToLower(r1["certSerial"])), 403},
		{"certificate that did not verify", with(r2, "certVerified", "FAILED:certificate has expired"), 403},
		{"revoked by Cloudflare", with(r2, "certRevoked", "1"), 403},
		{"no issuer key identifier", with(r2, "certIssuerSKI", ""), 403},
		{"no certificate", nil, 403},
	}
	for _, store := range []string{"kv", "inline"} {
		t.Run(store, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "worker")
			must(t, dir, "worker", "build", "--store", store, "--hostname", "auth.example.com", "--out", out)
			w := startWorkerd(t, bin, out, origin.URL)
			w.ask(t, r2) // the metadata is read and cached
			before := w.kvReads.Load()
			for _, tc := range cases {
				code, body := w.ask(t, tc.auth)
				if code != tc.want {
					t.Errorf("%s: %d %q, want %d", tc.name, code, body, tc.want)
				}
				if code == 200 && body != "origin" {
					t.Errorf("%s: the request did not reach the origin: %q", tc.name, body)
				}
			}
			// At most one KV read per request once the metadata is cached,
			// whatever the list's size (requests refused before the lookup,
			// or under a revoked CA, read nothing).
			// Seven of the cases reach the lookup: one read each.
			reads, want := w.kvReads.Load()-before, int64(7)
			if store == "inline" {
				want = 0
			}
			if reads != want {
				t.Errorf("%s: %d KV reads for %d requests, want %d", store, reads, len(cases), want)
			}
		})
	}

	// Without its data (not uploaded, or KV unreachable) the Worker fails
	// closed.
	bare := filepath.Join(t.TempDir(), "bare")
	must(t, dir, "worker", "build", "--hostname", "auth.example.com", "--out", bare)
	os.Remove(filepath.Join(bare, "revoked.kv.json"))
	if code, body := startWorkerd(t, bin, bare, origin.URL).ask(t, r2); code != 403 || !strings.Contains(body, "revocation data unavailable") {
		t.Errorf("no data: %d %q", code, body)
	}

	// Stale data fails closed, or with --fail-open lets valid certificates
	// through while the stale list still refuses what it lists.
	must(t, dir, "crl", "build", filepath.Join(dir, "serials.txt"), "--next-update", "2s")
	closed := filepath.Join(t.TempDir(), "closed")
	open := filepath.Join(t.TempDir(), "open")
	must(t, dir, "worker", "build", "--grace", "1s", "--hostname", "auth.example.com", "--out", closed)
	must(t, dir, "worker", "build", "--grace", "1s", "--fail-open", "--hostname", "auth.example.com", "--out", open)
	time.Sleep(3500 * time.Millisecond)
	wc, wo := startWorkerd(t, bin, closed, origin.URL), startWorkerd(t, bin, open, origin.URL)
	if code, body := wc.ask(t, r2); code != 403 || !strings.Contains(body, "stale") {
		t.Errorf("stale, fail closed: %d %q", code, body)
	}
	if code, body := wo.ask(t, r2); code != 200 {
		t.Errorf("stale, fail open, valid: %d %q", code, body)
	}
	if code, _ := wo.ask(t, r1); code != 403 {
		t.Errorf("stale, fail open, revoked: %d", code)
	}
}

// BenchmarkWorkerdRequest: one request through the Worker in workerd,
// with 10 and with 100,000 revoked certificates in KV, side by side: the
// cost per request must not grow with the list.
//
//	MTLSCTL_WORKERD=… go test -run '^$' -bench WorkerdRequest ./commands/
func BenchmarkWorkerdRequest(b *testing.B) {
	bin := os.Getenv("MTLSCTL_WORKERD")
	if bin == "" {
		b.Skip("set MTLSCTL_WORKERD to the workerd binary")
	}
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "origin") }))
	defer origin.Close()
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			dir := benchDir(b, 0)
			must(b, dir, "client", "issue", "--cn", "ok-1", "--name", "ok-1", "--key-type", "ecdsa-256")
			serials := filepath.Join(dir, "serials.txt")
			writeSerials(b, serials, n)
			must(b, dir, "crl", "build", serials)
			out := filepath.Join(b.TempDir(), "worker")
			must(b, dir, "worker", "build", "--hostname", "auth.example.com", "--out", out)
			auth := clientAuth(b, dir, "ok-1.pem")
			w := startWorkerd(b, bin, out, origin.URL)
			w.ask(b, auth) // metadata cached
			b.ResetTimer()
			for range b.N {
				if code, body := w.ask(b, auth); code != 200 {
					b.Fatalf("%d %q", code, body)
				}
			}
		})
	}
}
