package x509text

import (
	"crypto/rand"
	"crypto/rsa"
	x509pkix "crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// The RFC 2253 form is unambiguous: reading it back (splitting on the
// unescaped ',' and '+', undoing the escapes) gives every attribute of the
// DER name, most specific first (the reverse of DER order). The one-line form
// agrees with it, where it can be read back: it does not escape a backslash
// (OpenSSL's doesn't), and it prints non-string values raw, so names with
// either are left out. An empty RDN, which X.501 forbids, prints as
// nothing at all and is left out too.
func FuzzDistinguishedNames(f *testing.F) {
	c, err := testpki.SeedCA()
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
		rdns, _ := ParseDN(raw)
		var want []dnField // most specific first, as printed
		for i := len(rdns) - 1; i >= 0; i-- {
			if len(rdns[i]) == 0 {
				return
			}
			for j := len(rdns[i]) - 1; j >= 0; j-- {
				a := rdns[i][j]
				name, known := AttrName(a.Type)
				v, isString := ValueBytes(a.Value)
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

// SameDN, which decides whether a CRL names its CA, is reflexive on every
// name it can read and symmetric on any input.
func FuzzSameDN(f *testing.F) {
	c, err := testpki.SeedCA()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(c.RawSubject, c.RawIssuer)
	printable, _ := asn1.Marshal(x509pkix.Name{CommonName: "Good CA"}.ToRDNSequence())
	f.Add(printable, []byte{0x30, 0x12, 0x31, 0x10, 0x30, 0x0e, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x07, 'g', 'o', 'o', 'd', ' ', 'c', 'a'})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if _, err := ParseDN(a); err == nil && !SameDN(a, append([]byte{}, a...)) {
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
		if supported, err := VerifyPSS(&key.PublicKey, params, signed, sig); supported && err == nil {
			t.Errorf("a random signature verifies: %x %x", params, sig)
		}
	})
}
