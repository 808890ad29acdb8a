package x509text

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Distinguished names as Cloudflare shows them: certSubjectDN in RFC 2253
// form (what OpenSSL prints with -nameopt RFC2253) and certSubjectDNLegacy
// in OpenSSL's one-line form (-nameopt compat). Both are built from the
// raw DER, byte for byte as OpenSSL does, not from Go's pkix.Name.String,
// which names and escapes attributes differently.

type dnAttr struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParseDN reads a DER Name into RDNs of attributes, in DER order.
func ParseDN(raw []byte) ([][]dnAttr, error) {
	var rdns []asn1.RawValue
	if rest, err := asn1.Unmarshal(raw, &rdns); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("invalid distinguished name")
	}
	out := make([][]dnAttr, 0, len(rdns))
	for _, set := range rdns {
		var attrs []dnAttr
		if _, err := asn1.UnmarshalWithParams(set.FullBytes, &attrs, "set"); err != nil {
			return nil, fmt.Errorf("invalid relative distinguished name")
		}
		out = append(out, attrs)
	}
	return out, nil
}

// ValueBytes returns a string attribute's value as UTF-8 bytes, and false
// for types that are not strings.
func ValueBytes(v asn1.RawValue) ([]byte, bool) {
	if v.Class != asn1.ClassUniversal {
		return nil, false
	}
	switch v.Tag {
	case asn1.TagUTF8String:
		return v.Bytes, true
	case asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String, 18 /* Numeric */, 26 /* Visible */ :
		// OpenSSL reads each byte of these as one character (Latin-1)
		// and converts to UTF-8 before escaping: a T61String "café" is
		// caf\C3\A9, not caf\E9.
		return latin1ToUTF8(v.Bytes), true
	case asn1.TagBMPString:
		if len(v.Bytes)%2 != 0 {
			return nil, false
		}
		u := make([]uint16, len(v.Bytes)/2)
		for i := range u {
			u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
		}
		return []byte(string(utf16.Decode(u))), true
	case 28: // UniversalString
		if len(v.Bytes)%4 != 0 {
			return nil, false
		}
		var b strings.Builder
		for i := 0; i < len(v.Bytes); i += 4 {
			b.WriteRune(rune(uint32(v.Bytes[i])<<24 | uint32(v.Bytes[i+1])<<16 | uint32(v.Bytes[i+2])<<8 | uint32(v.Bytes[i+3])))
		}
		return []byte(b.String()), true
	}
	return nil, false
}

func latin1ToUTF8(b []byte) []byte {
	for _, c := range b {
		if c >= 0x80 {
			out := make([]byte, 0, len(b)+8)
			for _, c := range b {
				out = utf8.AppendRune(out, rune(c))
			}
			return out
		}
	}
	return b
}

func AttrName(oid asn1.ObjectIdentifier) (string, bool) {
	if n, ok := opensslShortNames[oid.String()]; ok {
		return n, true
	}
	return oid.String(), false
}

// DNRFC2253 formats a DER Name as OpenSSL's -nameopt RFC2253 does: most
// specific attribute first, ',' between RDNs and '+' inside one, RFC 2253
// escapes, bytes outside ASCII and control bytes as \XX, and attributes of
// unknown type or non-string value as #hex of their DER.
func DNRFC2253(raw []byte) (string, error) {
	rdns, err := ParseDN(raw)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		// OpenSSL reverses the whole sequence of attributes, so the
		// members of a multi-valued RDN come out reversed too.
		for j := len(rdns[i]) - 1; j >= 0; j-- {
			a := rdns[i][j]
			if j != len(rdns[i])-1 {
				b.WriteByte('+')
			}
			name, known := AttrName(a.Type)
			b.WriteString(name)
			b.WriteByte('=')
			v, isString := ValueBytes(a.Value)
			if !known || !isString {
				b.WriteByte('#')
				b.WriteString(strings.ToUpper(hex.EncodeToString(a.Value.FullBytes)))
				continue
			}
			Escape2253(&b, v)
		}
	}
	return b.String(), nil
}

func Escape2253(b *strings.Builder, v []byte) {
	for i, c := range v {
		switch {
		case c >= 0x80 || c < 0x20 || c == 0x7f:
			fmt.Fprintf(b, "\\%02X", c)
		case strings.IndexByte(`,+"\<>;`, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		case (i == 0 && (c == '#' || c == ' ')) || (i == len(v)-1 && c == ' '):
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
}

// DNLegacy formats a DER Name as OpenSSL's one-line form
// (X509_NAME_oneline, -nameopt compat): "/C=US/ST=Texas/.../CN=name",
// outermost first, bytes outside printable ASCII as \xHH, and '/' and '+'
// (its separators) escaped with a backslash.
func DNLegacy(raw []byte) (string, error) {
	rdns, err := ParseDN(raw)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, rdn := range rdns {
		for j, a := range rdn {
			if j == 0 {
				b.WriteByte('/')
			} else {
				b.WriteByte('+')
			}
			name, _ := AttrName(a.Type)
			b.WriteString(name)
			b.WriteByte('=')
			v := a.Value.Bytes
			if a.Value.Tag == asn1.TagBMPString || a.Value.Tag == 28 {
				v, _ = ValueBytes(a.Value)
			}
			for _, c := range v {
				switch {
				case c < 0x20 || c > 0x7e:
					fmt.Fprintf(&b, "\\x%02X", c)
				case c == '/' || c == '+':
					b.WriteByte('\\')
					b.WriteByte(c)
				default:
					b.WriteByte(c)
				}
			}
		}
	}
	return b.String(), nil
}

// FormatDN is how mtlsctl prints every distinguished name: RFC 2253 as
// OpenSSL's -nameopt RFC2253 prints it, control and non-ASCII bytes
// escaped, so a name never reaches a terminal raw.
func FormatDN(raw []byte) string {
	s, err := DNRFC2253(raw)
	if err != nil {
		return "(an invalid name, DER " + strings.ToUpper(hex.EncodeToString(raw)) + ")"
	}
	return s
}

// SubjectDN and IssuerDN are a certificate's names as FormatDN prints them.
func SubjectDN(c *x509.Certificate) string { return FormatDN(c.RawSubject) }
func IssuerDN(c *x509.Certificate) string  { return FormatDN(c.RawIssuer) }

// SameDN compares two DER names as RFC 5280 §7.1 and OpenSSL do: the same
// attributes in the same RDNs, string values compared after conversion to
// UTF-8, ASCII case folding and whitespace folding. So a CA that rolled its
// name over from PrintableString to UTF8String still matches its CRLs.
func SameDN(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	ca, okA := canonicalDN(a)
	cb, okB := canonicalDN(b)
	return okA && okB && ca == cb
}

func canonicalDN(raw []byte) (string, bool) {
	rdns, err := ParseDN(raw)
	if err != nil {
		return "", false
	}
	var b strings.Builder
	for _, rdn := range rdns {
		attrs := make([]string, 0, len(rdn))
		for _, a := range rdn {
			v, isString := ValueBytes(a.Value)
			val := "#" + hex.EncodeToString(a.Value.FullBytes)
			// OpenSSL canonicalises the string types but NumericString,
			// which it compares as encoded.
			if isString && a.Value.Tag != 18 {
				val = ASCIILower(FoldASCIISpace(v))
			}
			attrs = append(attrs, a.Type.String()+"="+val)
		}
		slices.Sort(attrs)
		b.WriteString(strings.Join(attrs, "\x00+"))
		b.WriteString("\x00,")
	}
	return b.String(), true
}

// FoldASCIISpace trims ASCII white space and turns each run inside into
// one space, as OpenSSL does; other spaces (U+00A0, say) are characters.
func FoldASCIISpace(v []byte) string {
	var b strings.Builder
	space := false
	for _, c := range v {
		if c == ' ' || (c >= '\t' && c <= '\r') {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ASCIILower lower-cases A-Z only, as OpenSSL's name canonicalisation
// does; other letters are compared as they are.
func ASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
