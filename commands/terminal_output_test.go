package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// run runs mtlsctl in process with color as a terminal would have it.
func runColored(t *testing.T, color bool, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	u := &ui{out: &out, err: &errb, outColor: color, errColor: color}
	app := newApp(u, strings.NewReader(""))
	quietCfssl()
	full := append([]string{"mtlsctl"}, args...)
	full, err := reorderArgs(app, full)
	if err == nil {
		err = app.RunContext(context.Background(), full)
	}
	if err != nil {
		code = u.reportError(err)
	}
	return out.String(), errb.String(), code
}

// A foreign certificate whose CN and SANs carry control characters.
func hostileCert(t *testing.T) string {
	p := newTestPKI(t)
	c, _ := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "evil\x1b[2J\rcn"},
		DNSNames: []string{"a\nforged.example.com", "esc\x1b[31m.example.com"}, EmailAddresses: []string{"x\x00@example.com"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, p.ca, p.caKey)
	path := filepath.Join(p.dir, "hostile.pem")
	writePEM(t, path, "CERTIFICATE", c.Raw)
	return path
}

// Text from a certificate reaches the terminal escaped.
func TestInspectEscapesCertificateText(t *testing.T) {
	out, errOut, code := runColored(t, false, "inspect", hostileCert(t))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out, "\x1b\x00\x07\r") || strings.Contains(out, "\nforged") {
		t.Errorf("raw control characters reach the terminal:\n%q", out)
	}
	for _, want := range []string{`DNS:a\nforged.example.com`, `DNS:esc\x1b[31m.example.com`, `email:x\x00@example.com`, `CN=evil\1B[2J\0Dcn`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect does not show %s:\n%s", want, out)
		}
	}
}

// check FILE prints a foreign certificate's CN escaped.
func TestCheckEscapesCN(t *testing.T) {
	out, _, _ := runColored(t, false, "check", hostileCert(t))
	if strings.ContainsAny(out, "\x1b\r") {
		t.Errorf("raw control characters reach the terminal:\n%q", out)
	}
	if !strings.Contains(out, `evil\x1b[2J\rcn`) {
		t.Errorf("check does not show the escaped CN:\n%s", out)
	}
}

var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// Colored check output lines up like the uncolored one.
func TestCheckColoredColumnsAlign(t *testing.T) {
	p := newTestPKI(t)
	now := time.Now()
	soon, _ := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "soon"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 24 * time.Hour)}, p.ca, p.caKey)
	later, _ := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "later"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(20 * 24 * time.Hour)}, p.ca, p.caKey)
	gone, _ := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "gone"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour)}, p.ca, p.caKey)
	path := filepath.Join(p.dir, "mixed.pem")
	writePEM(t, path, "CERTIFICATE", soon.Raw, later.Raw, gone.Raw)
	plain, _, _ := runColored(t, false, "check", "--warn", "15d", path, p.caFile)
	colored, _, _ := runColored(t, true, "check", "--warn", "15d", path, p.caFile)
	if !strings.Contains(colored, "\x1b[") {
		t.Fatalf("no color in the colored output:\n%q", colored)
	}
	if got := ansi.ReplaceAllString(colored, ""); got != plain {
		t.Errorf("colored output, escapes removed, differs from the plain one:\n%s\nplain:\n%s", got, plain)
	}
	// and the header's columns sit where the rows' do
	lines := strings.Split(strings.TrimRight(plain, "\n"), "\n")
	col := len([]rune(lines[0][:strings.Index(lines[0], "LEFT")]))
	for _, l := range lines[1:] {
		if r := []rune(l); len(r) <= col || r[col-1] != ' ' || r[col] == ' ' {
			t.Errorf("row %q does not line up with LEFT at column %d", l, col)
		}
	}
	_ = os.Remove(path)
}

// A CA whose name carries ESC and BEL reaches the terminal
// escaped, as OpenSSL's -nameopt RFC2253 prints it, through ca validate
// and crl show (its CRL's issuer) too.
func TestDNsEscapedEverywhere(t *testing.T) {
	dir := t.TempDir()
	ca, caKey := mint(t, &x509.Certificate{Subject: x509pkix.Name{CommonName: "evil\x1b[2J\x07ca", Organization: []string{"O\rrg"}},
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, nil)
	caFile := filepath.Join(dir, "evil-ca.pem")
	writePEM(t, caFile, "CERTIFICATE", ca.Raw)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: time.Now().Add(-time.Minute),
		NextUpdate: time.Now().Add(time.Hour)}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	crlFile := filepath.Join(dir, "evil.crl")
	os.WriteFile(crlFile, crl, 0o644)
	const want = `CN=evil\1B[2J\07ca,O=O\0Drg`
	// a file name and a hostname with escape sequences too
	evilFile := filepath.Join(dir, "c\x1b]0;pwn\x07.pem")
	writePEM(t, evilFile, "CERTIFICATE", ca.Raw)
	for _, args := range [][]string{
		{"ca", "validate", caFile},
		{"ca", "validate", evilFile},
		{"ca", "validate", "--hostname", "a\x1b[31mb.example.com", caFile},
		{"crl", "show", "--dir", dir, "--ca", caFile, crlFile},
		{"crl", "show", "--dir", dir, crlFile},
		{"inspect", crlFile},
	} {
		out, errOut, _ := runColored(t, false, args...)
		if strings.ContainsAny(out+errOut, "\x1b\x07\r") {
			t.Errorf("%v: raw control characters reach the terminal:\n%q\n%q", args, out, errOut)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%v: the name is not printed as OpenSSL prints it (%s):\n%s", args, want, out)
		}
	}
}

// The "wrote N files" summary escapes the names it lists.
func TestWrittenFilesEscaped(t *testing.T) {
	dir := t.TempDir()
	if _, errOut, code := runColored(t, false, "ca", "init", "--dir", dir); code != 0 {
		t.Fatal(errOut)
	}
	serials := filepath.Join(dir, "serials.txt")
	os.WriteFile(serials, []byte("# none\n"), 0o644)
	out, errOut, code := runColored(t, false, "crl", "build", "--dir", dir, "--out", filepath.Join(dir, "o\x1b[2J.crl"), serials)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if strings.ContainsAny(out+errOut, "\x1b") || !strings.Contains(out, `o\x1b[2J.crl`) {
		t.Errorf("the file name is not escaped:\n%q", out)
	}
}
