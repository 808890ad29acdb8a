package commands

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

// hostileID is a certificate ID as a hostile API (or a proxy) might send
// it: a terminal title, a screen clear, a forged line, a C1 CSI and a
// bidi override.
const hostileID = "new-\x1b]0;pwned\a\x1b[2J\nmtlsctl: note: forged\u009b31m\u202e"

// its escaped form, as pkix.Printable writes it: once.
const hostileIDEscaped = `new-\x1b]0;pwned\a\x1b[2J\nmtlsctl: note: forged\u009b31m\u202e`

func startFake(t *testing.T) *cloudflaretest.Server {
	t.Helper()
	s := cloudflaretest.NewPlain()
	t.Cleanup(s.Close)
	t.Setenv("CLOUDFLARE_BASE_URL", s.BaseURL())
	t.Setenv("CLOUDFLARE_API_TOKEN", cloudflaretest.Token)
	t.Setenv("CLOUDFLARE_ACCOUNT_ID", cloudflaretest.Account)
	t.Setenv("CLOUDFLARE_ZONE_ID", "")
	return s
}

func newCADir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if _, errOut, code := runColored(t, false, "ca", "init", "--dir", dir, "--key-type", "ecdsa-256"); code != 0 {
		t.Fatalf("ca init: exit %d: %s", code, errOut)
	}
	return dir
}

// rawControl says what in s would act on a terminal: C0 (but newline),
// DEL, C1, and bidi controls.
func rawControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\n') || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
	})
}

func checkEscapedOnce(t *testing.T, what, out string, want ...string) {
	t.Helper()
	if rawControl(out) || strings.Contains(out, "\nmtlsctl: note: forged") {
		t.Errorf("%s: raw control characters reach the terminal:\n%q", what, out)
	}
	if strings.HasPrefix(out, "{") {
		// JSON writes a backslash as \\: look at what it decodes to.
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		b, _ := json.Marshal(v)
		out = strings.ReplaceAll(string(b), `\\`, `\`)
	}
	if strings.Contains(out, `\\x1b`) {
		t.Errorf("%s: escaped twice:\n%s", what, out)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("%s: want %s in\n%s", what, w, out)
		}
	}
}

// 21.15: every string from the API reaches the terminal escaped once: the
// created certificate's ID and name in upload's text, the replaced one's,
// and delete's, and in --json (where they decode back to the API's
// strings, and nothing raw is written either).
func TestCloudflareOutputEscapesAPIStrings(t *testing.T) {
	s := startFake(t)
	s.NextIDs = []string{hostileID, "second-" + hostileID}
	const name = "CA \x1b[31mred"
	const nameEscaped = `"CA \x1b[31mred"`

	out, errOut, code := runColored(t, false, "cloudflare", "upload", "--dir", newCADir(t), "--name", name, "--hostname", "auth.example.com")
	if code != 0 {
		t.Fatalf("upload: exit %d: %s", code, errOut)
	}
	checkEscapedOnce(t, "upload", out+errOut, "created: Access certificate "+hostileIDEscaped+" "+nameEscaped)

	// A rotation: the replaced certificate's ID in the text and the
	// notes, and the new one's in --json.
	out, errOut, code = runColored(t, false, "cloudflare", "upload", "--dir", newCADir(t), "--name", "next", "--replace", hostileID, "--json")
	if code != 0 {
		t.Fatalf("upload --replace: exit %d: %s", code, errOut)
	}
	checkEscapedOnce(t, "upload --json", out)
	checkEscapedOnce(t, "upload --json (stderr)", errOut)
	var doc struct {
		Certificate struct{ ID, Name string }
		Replacing   struct{ ID, Name string }
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, out)
	}
	if doc.Certificate.ID != "second-"+hostileID || doc.Replacing.ID != hostileID || doc.Replacing.Name != name {
		t.Errorf("--json does not give back the API's strings: %+v", doc)
	}

	out, errOut, code = runColored(t, false, "cloudflare", "delete", "--force", "second-"+hostileID)
	if code != 0 {
		t.Fatalf("delete: exit %d: %s", code, errOut)
	}
	checkEscapedOnce(t, "delete", out+errOut, "deleted: Access certificate second-"+hostileIDEscaped+` "next"`, "delete certificate second-"+hostileIDEscaped)

	out, errOut, code = runColored(t, false, "cloudflare", "delete", "--force", "--json", hostileID)
	if code != 0 {
		t.Fatalf("delete --json: exit %d: %s", code, errOut)
	}
	checkEscapedOnce(t, "delete --json", out, `delete certificate `+hostileIDEscaped)
	checkEscapedOnce(t, "delete --json (stderr)", errOut)
	var del struct{ Certificate struct{ ID, Name string } }
	if err := json.Unmarshal([]byte(out), &del); err != nil || del.Certificate.ID != hostileID || del.Certificate.Name != name {
		t.Errorf("delete --json: %+v, %v", del, err)
	}
}

func caPEM(t *testing.T, cn string, notAfter time.Time) string {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: x509pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// 22.11: cloudflare list is sorted by name (then ID), or by expiry with
// --sort expiry, in text and --json; the IDs are given in an order that
// is neither.
func TestCloudflareListSorted(t *testing.T) {
	s := startFake(t)
	now := time.Now()
	s.NextIDs = []string{"id-1", "id-2", "id-3"}
	s.AddCert("charlie", caPEM(t, "C", now.AddDate(0, 0, 20)))
	s.AddCert("Alpha", caPEM(t, "A", now.AddDate(2, 0, 0)))
	s.AddCert("bravo", caPEM(t, "B", now.AddDate(0, 3, 0)))
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{nil, []string{"Alpha", "bravo", "charlie"}},
		{[]string{"--sort", "name"}, []string{"Alpha", "bravo", "charlie"}},
		{[]string{"--sort", "expiry"}, []string{"charlie", "bravo", "Alpha"}},
	} {
		out, errOut, code := runColored(t, false, append([]string{"cloudflare", "list"}, tc.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")[1:]
		var got []string
		for _, l := range lines {
			got = append(got, strings.Fields(l)[1])
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("list %v: %v, want %v:\n%s", tc.args, got, tc.want, out)
		}
		out, _, _ = runColored(t, false, append([]string{"cloudflare", "list", "--json"}, tc.args...)...)
		var doc struct{ Certificates []struct{ Name string } }
		json.Unmarshal([]byte(out), &doc)
		got = nil
		for _, c := range doc.Certificates {
			got = append(got, c.Name)
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("list --json %v: %v, want %v", tc.args, got, tc.want)
		}
	}
	_, errOut, code := runColored(t, false, "cloudflare", "list", "--sort", "id")
	if code != ExitError || !strings.Contains(errOut, "--sort id: use name or expiry") {
		t.Errorf("--sort id: exit %d: %s", code, errOut)
	}
}
