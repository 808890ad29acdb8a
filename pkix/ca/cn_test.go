package ca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"strings"
	"testing"
	"unicode"
)

// Each of these code points renders as nothing after "ci-x": every
// one is refused, and says which it is.
func TestCheckCNRefusesInvisible(t *testing.T) {
	for _, r := range []rune{'\u3164', '\u115F', '\u034F', '\uFE0F', '\u2800', '\u200B', '\u202E', '\U000E0101', '\uFFA0', '\u1160', '\u180E', '\u2060'} {
		cn := "ci-x" + string(r)
		err := cfsslconf.CheckCN(cn)
		if err == nil {
			t.Errorf("CheckCN(%q) (%U) accepted", cn, r)
			continue
		}
		if want := fmt.Sprintf("%U", r); !strings.Contains(err.Msg, want) {
			t.Errorf("CheckCN(%U): %q does not name %s", r, err.Msg, want)
		}
	}
	// Letters, marks that show, emoji and the plain space stay allowed.
	for _, cn := range []string{"ci-x", "Zoë", "née 東京", "José Q", "ci-x ü", "한글", "ci:x@site", "dev_7.floor-2"} {
		if err := cfsslconf.CheckCN(cn); err != nil {
			t.Errorf("CheckCN(%q) = %v", cn, err)
		}
	}
}

// The table built from Go's three tables holds no white space and no
// printable letter: it must not refuse a name that shows.
func TestInvisibleIsNotWhiteSpaceNorLetter(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if !cfsslconf.Invisible(r) {
			continue
		}
		if unicode.Is(unicode.White_Space, r) {
			t.Errorf("%U is white space", r)
		}
		if unicode.IsLetter(r) && !unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) {
			t.Errorf("%U is a letter outside Other_Default_Ignorable_Code_Point", r)
		}
	}
}

func TestCheckCNSpecials(t *testing.T) {
	for _, c := range []string{",", "+", ";", "<", ">", "=", `"`, `\`, "#", "/"} {
		cn := "ci-x" + c + "O=system:masters"
		err := cfsslconf.CheckCNSpecials(cn)
		if err == nil {
			t.Errorf("CheckCNSpecials(%q) accepted", cn)
			continue
		}
		if !strings.Contains(err.Msg, "part of a DN's syntax") {
			t.Errorf("CheckCNSpecials(%q): %s", cn, err.Msg)
		}
	}
	if err := cfsslconf.CheckCNSpecials("ci-x system:masters"); err != nil {
		t.Errorf("a CN without a DN metacharacter: %v", err)
	}
}

// A request whose subject has two CNs is refused, naming both: Go keeps
// the last, so CN=a would vanish from the certificate.
func TestDeviceRequestTwoCNs(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.CertificateRequest{Subject: x509pkix.Name{ExtraNames: []x509pkix.AttributeTypeAndValue{
		{Type: cfsslconf.OidCommonName, Value: "a"}, {Type: cfsslconf.OidCommonName, Value: "b"}}}}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseDeviceRequest("two.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	if err == nil || !strings.Contains(err.Error(), `2 CNs ("a", "b")`) {
		t.Fatalf("two CNs: %v", err)
	}
	tmpl.Subject.ExtraNames = tmpl.Subject.ExtraNames[:1]
	der, _ = x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if _, err := ParseDeviceRequest("one.csr", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})); err != nil {
		t.Fatalf("one CN: %v", err)
	}
}
