package pkix

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// Parsers of files a user (or a git merge) can change must never panic,
// and what they write they must read back the same.

func FuzzParseInventory(f *testing.F) {
	r := Record{Serial: "0A", Status: StatusValid, Kind: KindClient, CN: "tab\there\\back", NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0),
		Profile: "client", Issuer: "ca", SHA256: "ab", Name: "-", Subject: "CN=tab\\09here"}
	good := AppendInventoryLine(InventoryHeader(), &r)
	f.Add(good)
	r.Status, r.RevokedAt, r.Reason = StatusRevoked, time.Unix(5e8, 0), "keyCompromise"
	f.Add(AppendInventoryLine(good, &r)) // a change appended
	f.Add([]byte("# header\n0A\tvalid\n"))
	f.Add([]byte("0A\tvalid\tclient\tcn\tbad-date\t-\t-\t-\t-\t-\t-\t-\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("inventory.tsv", data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%T: %v", err, err)
			}
			return
		}
		// What parses renders and parses back to the same rendering.
		again, err := ParseInventory("inventory.tsv", inv.Bytes())
		if err != nil {
			t.Fatalf("rendered inventory does not parse: %v", err)
		}
		if !bytes.Equal(again.Bytes(), inv.Bytes()) {
			t.Fatalf("round trip changed the inventory")
		}
	})
}

// The RFC 2253 form is unambiguous: reading it back (splitting on the
// unescaped ',' and '+', undoing the escapes) gives every attribute of the
// DER name, most specific first (the reverse of DER order). The one-line form
// agrees with it, where it can be read back: it does not escape a backslash
// (OpenSSL's doesn't), and it prints non-string values raw, so names with
// either are left out. An empty RDN, which X.501 forbids, prints as
// nothing at all and is left out too.
func FuzzDistinguishedNames(f *testing.F) {
	c, err := makeCertForFuzz()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.RawSubject)
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x05, 0x31, 0x03, 0x30, 0x01, 0x00})
	for _, name := range []x509pkix.Name{
		{CommonName: `José "Q" <x>;y/z+w,v\u=k`, Organization: []string{" lead#", "#hash"}, OrganizationalUnit: []string{"trail "}},
		{CommonName: "a/b+c", Organization: []string{"tab\there", "née 東京"}, OrganizationalUnit: []string{" x y "}},
		{CommonName: "née 東京", SerialNumber: "123", ExtraNames: []x509pkix.AttributeTypeAndValue{
			{Type: asn1.ObjectIdentifier{1, 2, 3, 4}, Value: "private"}}},
	} {
		raw, err := asn1.Marshal(name.ToRDNSequence())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := DNRFC2253(raw)
		legacy, legacyErr := DNLegacy(raw)
		if (err == nil) != (legacyErr == nil) {
			t.Fatalf("RFC 2253 error %v, one-line error %v", err, legacyErr)
		}
		if err != nil {
			return
		}
		rdns, _ := parseDN(raw)
		var want []dnField // most specific first, as printed
		for i := len(rdns) - 1; i >= 0; i-- {
			if len(rdns[i]) == 0 {
				return
			}
			for j := len(rdns[i]) - 1; j >= 0; j-- {
				a := rdns[i][j]
				name, known := attrName(a.Type)
				v, isString := valueBytes(a.Value)
				fd := dnField{typ: name, value: string(v), first: j == len(rdns[i])-1}
				if !known || !isString {
					fd.value, fd.hex = strings.ToUpper(hex.EncodeToString(a.Value.FullBytes)), true
				}
				want = append(want, fd)
			}
		}
		if got := read2253(s); !reflect.DeepEqual(got, want) {
			t.Fatalf("%q reads back as\n%+v\nwant\n%+v", s, got, want)
		}
		for _, fd := range want {
			if fd.hex || strings.Contains(fd.value, `\`) {
				return
			}
		}
		// The one-line form prints outermost first: reversed, an RDN's
		// first printed attribute is the one after another RDN's start.
		got := readLegacy(legacy)
		slices.Reverse(got)
		starts := make([]bool, len(got))
		for i := range got {
			starts[i] = got[i].first
		}
		for i := range got {
			got[i].first = i == 0 || starts[i-1]
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("one-line %q reads back as\n%+v\nwant (from %q)\n%+v", legacy, got, s, want)
		}
	})
}

// dnField is one attribute as printed; first marks the first printed
// attribute of an RDN.
type dnField struct {
	typ, value string
	hex, first bool
}

// read2253 reads DNRFC2253's output back as RFC 2253 says: ',' between
// RDNs, '+' inside one, a backslash before a special character or two hex
// digits, '#' at the start of a value for hex DER (kept as written), and
// unescaped spaces at either end of a value ignored.
func read2253(s string) []dnField {
	if s == "" {
		return nil
	}
	out := []dnField{{first: true}}
	var b strings.Builder
	inValue, spaces := false, 0
	put := func(c byte) {
		if b.Len() > 0 {
			b.WriteString(strings.Repeat(" ", spaces))
		}
		spaces = 0
		b.WriteByte(c)
	}
	end := func() { out[len(out)-1].value = b.String(); b.Reset(); inValue, spaces = false, 0 }
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !inValue && c == '=':
			inValue = true
			out[len(out)-1].typ = b.String()
			b.Reset()
			out[len(out)-1].hex = i+1 < len(s) && s[i+1] == '#'
			if out[len(out)-1].hex {
				i++
			}
		case !inValue:
			b.WriteByte(c)
		case c == '\\' && i+2 < len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]):
			v, _ := hex.DecodeString(s[i+1 : i+3])
			put(v[0])
			i += 2
		case c == '\\' && i+1 < len(s):
			put(s[i+1])
			i++
		case c == ' ':
			spaces++
		case c == '+' || c == ',':
			end()
			out = append(out, dnField{first: c == ','})
		default:
			put(c)
		}
	}
	end()
	return out
}

// readLegacy reads DNLegacy's output back: '/' before each RDN, '+'
// inside one, \xHH for a byte, a backslash before a '/' or '+' in a value.
func readLegacy(s string) []dnField {
	var out []dnField
	var b strings.Builder
	inValue := false
	end := func() {
		if len(out) > 0 {
			out[len(out)-1].value = b.String()
		}
		b.Reset()
		inValue = false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '/' || c == '+':
			end()
			out = append(out, dnField{first: c == '/'})
		case !inValue && c == '=':
			inValue = true
			out[len(out)-1].typ = b.String()
			b.Reset()
		case c == '\\' && i+3 < len(s) && s[i+1] == 'x' && isHexDigit(s[i+2]) && isHexDigit(s[i+3]):
			v, _ := hex.DecodeString(s[i+2 : i+4])
			b.Write(v)
			i += 3
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	end()
	return out
}

func isHexDigit(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'A' && c <= 'F' || c >= 'a' && c <= 'f'
}

func FuzzCheckHostname(f *testing.F) {
	for _, s := range []string{"auth.example.com", "https://x.y/z", "*.a.b", "bücher.example", "a..b", "x:443", "-a.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c := CheckHostname(h)
		if c.Status == Pass {
			// An accepted name, in its ASCII form, is accepted again as is.
			ascii := HostnameOf(c)
			if again := CheckHostname(ascii); again.Status != Pass || HostnameOf(again) != ascii {
				t.Fatalf("%q accepted as %q, which then gives %+v", h, ascii, again)
			}
		}
	})
}

// What a certificate is judged does not depend on how it was pasted: the
// certificates a report found, pasted again as a clean PEM bundle in the
// same order, get the same checks each, the same chain verdict and the same
// hostname checks, and the paste itself passes.
func FuzzValidateUpload(f *testing.F) {
	ca := newTestCA(f, "ecdsa-256")
	seed, err := makeCertForFuzz()
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: x509pkix.Name{CommonName: "Seed Intermediate"},
		NotBefore: ca.Cert.NotBefore, NotAfter: ca.Cert.NotAfter, BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		f.Fatal(err)
	}
	inter, _ := x509.ParseCertificate(der)
	f.Add(OrderedPEM([]*x509.Certificate{seed}))
	f.Add(seed.Raw) // DER
	f.Add(OrderedPEM([]*x509.Certificate{inter, ca.Cert}))
	f.Add(OrderedPEM([]*x509.Certificate{ca.Cert, inter})) // out of order
	f.Add(append(OrderedPEM([]*x509.Certificate{ca.Cert}), "-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n"...))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		opts := ValidationOptions{Hostnames: []string{"a.example"}, Now: time.Now()}
		r, err := ValidateUpload("f.pem", data, opts)
		if err != nil || len(r.Certificates) == 0 {
			return
		}
		clean, err := ValidateUpload("f.pem", OrderedPEM(r.Chain()), opts)
		if err != nil {
			t.Fatalf("the report's own certificates, as PEM, are unreadable: %v", err)
		}
		for i := range r.Certificates {
			if !reflect.DeepEqual(r.Certificates[i].Checks, clean.Certificates[i].Checks) {
				t.Fatalf("certificate %d: %+v as pasted, %+v as clean PEM", i+1, r.Certificates[i].Checks, clean.Certificates[i].Checks)
			}
		}
		if got, want := withoutRule(clean.Bundle, "content"), withoutRule(r.Bundle, "content"); !reflect.DeepEqual(got, want) {
			t.Fatalf("chain checks %+v as pasted, %+v as clean PEM", want, got)
		}
		if content := clean.Bundle[0]; content.Rule != "content" || content.Status != Pass {
			t.Fatalf("a clean PEM bundle's content check: %+v", content)
		}
		if !reflect.DeepEqual(r.Hostnames, clean.Hostnames) {
			t.Fatalf("hostname checks changed: %+v, %+v", r.Hostnames, clean.Hostnames)
		}
	})
}

func withoutRule(checks []Check, rule string) []Check {
	var out []Check
	for _, c := range checks {
		if c.Rule != rule {
			out = append(out, c)
		}
	}
	return out
}

// makeCertForFuzz returns a real CA certificate made by cfssl, for seeds.
func makeCertForFuzz() (*x509.Certificate, error) {
	req, err := LoadRequest("r.json", []byte(`{"CN": "Seed, Inc.", "names": [{"O": "Ünïcode", "OU": "a+b"}], "key": {"algo": "ecdsa", "size": 256}}`), CARequest)
	if err != nil {
		return nil, err
	}
	ca, _, err := InitCA(req, 0, nil)
	if err != nil {
		return nil, err
	}
	return ca.Cert, nil
}

// ScanInventory (the allocation-free reader of the CRL cross-check and of
// revoke) must agree with ParseInventory: every file the parser accepts,
// the scanner reads, and a serial's last line gives its state.
func FuzzScanInventory(f *testing.F) {
	r := Record{Serial: "0A", Status: StatusValid, Kind: KindClient, CN: "dev", NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0),
		Profile: "client", Issuer: "ca", SHA256: "ab", Name: "dev", Subject: "CN=dev"}
	good := AppendInventoryLine(InventoryHeader(), &r)
	f.Add(good)
	r.Status, r.Reason, r.RevokedAt = StatusRevoked, "keyCompromise", time.Unix(5e8, 0)
	f.Add(AppendInventoryLine(good, &r))
	f.Add([]byte("0A\tvalid\tclient\tcn\t-\t-\t-\tca\t-\t-\t-\t-\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("inventory.tsv", data)
		if err != nil {
			return
		}
		last := map[string]string{}
		if err := ScanInventory("inventory.tsv", data, func(l InventoryLine) {
			last[unescapeField(string(l.Serial))] = string(l.Status) + "/" + unescapeField(string(l.Issuer))
		}); err != nil {
			t.Fatalf("the parser accepts what the scanner refuses: %v", err)
		}
		for _, rec := range inv.Records {
			if got, want := last[rec.Serial], string(rec.Status)+"/"+rec.Issuer; got != want {
				t.Errorf("serial %q: scanner %q, parser %q", rec.Serial, got, want)
			}
		}
	})
}

// Durations come from flags and from the signer's admin endpoints: no
// panic, and what is accepted is positive and at most 100 years.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "8760h", "0d", "-1h", "36501d", "9223372036854775807ns", " 7d ", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && (d <= 0 || d > MaxDurationDays*24*time.Hour) {
			t.Fatalf("%q accepted as %v", s, d)
		}
	})
}

// SameDN, which decides whether a CRL names its CA, is reflexive on every
// name it can read and symmetric on any input.
func FuzzSameDN(f *testing.F) {
	c, err := makeCertForFuzz()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.RawSubject, c.RawIssuer)
	printable, _ := asn1.Marshal(x509pkix.Name{CommonName: "Good CA"}.ToRDNSequence())
	f.Add(printable, []byte{0x30, 0x12, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x07, 'g', 'o', 'o', 'd', ' ', 'c', 'a'})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if _, err := parseDN(a); err == nil && !SameDN(a, append([]byte{}, a...)) {
			t.Errorf("%x is not the same as itself", a)
		}
		if SameDN(a, b) != SameDN(b, a) {
			t.Errorf("SameDN(%x, %x) is not symmetric", a, b)
		}
	})
}

// RSASSA-PSS parameters from anywhere: named, parsed and used to verify
// without a panic, and a parse that succeeds gives a usable salt length.
func FuzzPSSParams(f *testing.F) {
	key, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		f.Fatal(err)
	}
	// OpenSSL's defaults for SHA-256 (salt 222 for a 2048-bit key), and none.
	f.Add([]byte{0x30, 0x34, 0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00,
		0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86,
		0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0xa2, 0x03, 0x02, 0x01, 0xde}, []byte("signed"), []byte("sig"))
	f.Add([]byte{0x30, 0x00}, []byte{}, []byte{})
	pss := asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	f.Fuzz(func(t *testing.T, params, signed, sig []byte) {
		if name := SignatureAlgorithmName(pss, params); name == "" {
			t.Error("no name")
		}
		if p, ok := parsePSSParams(params); ok && (p.saltLength < 0 || !p.hash.Available() || !p.mgfHash.Available()) {
			t.Errorf("parsed %+v from %x", p, params)
		}
		if supported, err := verifyPSS(&key.PublicKey, params, signed, sig); supported && err == nil {
			t.Errorf("a random signature verifies: %x %x", params, sig)
		}
	})
}
