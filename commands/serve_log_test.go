package commands

import (
	"bufio"
	"crypto/x509"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// With --json, stdout holds only JSON lines; the banner and "shut
// down" go to stderr, and absent values are null.
func TestServeJSONStdoutIsOnlyJSON(t *testing.T) {
	p := newTestPKI(t)
	cert := p.client(t, "ok", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	ts := mustServe(t, serveOptions{dir: p.dir, caPath: p.caFile, jsonLog: true})
	get(t, clientFor(nil, false), ts.addr)
	get(t, clientFor(&cert, false), ts.addr)
	out, errOut := ts.stop(t)
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("stdout line %q is not JSON: %v\n%s", sc.Text(), err, out)
		}
		lines = append(lines, m)
	}
	if len(lines) != 2 {
		t.Fatalf("%d JSON lines, want 2:\n%s", len(lines), out)
	}
	if !strings.Contains(errOut, "listening on https://") || !strings.Contains(errOut, "shut down") {
		t.Errorf("the banner and shut down are not on stderr:\n%s", errOut)
	}
	for _, k := range []string{"cn", "serial"} {
		if v, ok := lines[0][k]; !ok || v != nil {
			t.Errorf("no certificate: %s = %#v, want null", k, v)
		}
	}
	if v, ok := lines[1]["reason"]; !ok || v != nil {
		t.Errorf("allowed: reason = %#v, want null", v)
	}
	if lines[1]["cn"] != "ok" {
		t.Errorf("allowed: cn = %#v", lines[1]["cn"])
	}
}

// What the client controls (the path, its certificate's CN) is
// quoted in the text access log: no forged lines, no terminal escapes.
func TestServeAccessLogQuotesUntrustedFields(t *testing.T) {
	p := newTestPKI(t)
	evil := p.client(t, "admin\x1b[2J\nforged", time.Now().Add(-time.Hour), time.Now().Add(time.Hour), x509.ExtKeyUsageClientAuth)
	ts := mustServe(t, serveOptions{dir: p.dir, caPath: p.caFile})
	c := clientFor(&evil, false)
	for _, path := range []string{"/x%0A2025-01-01T00:00:00Z%20127.0.0.1:1%20GET%20/%20200%20allow%20cn=%22admin%22", "/%1b[31mred", "/a%22b%20c"} {
		res, err := c.Get("https://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	out, _ := ts.stop(t)
	var log []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if strings.Contains(l, " GET ") {
			log = append(log, l)
		}
	}
	if len(log) != 3 {
		t.Errorf("%d access log lines for 3 requests:\n%s", len(log), out)
	}
	if strings.ContainsAny(out, "\x1b\x00") {
		t.Errorf("raw control characters in the log: %q", out)
	}
	for _, want := range []string{`GET "/x\n2025-01-01T00:00:00Z 127.0.0.1:1 GET / 200 allow cn=\"admin\"" 200`, `GET "/\x1b[31mred"`, `GET "/a\"b c"`, `cn="admin\x1b[2J\nforged"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
