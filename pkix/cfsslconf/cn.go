package cfsslconf

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"strings"
	"unicode"
)

// Invisible reports a code point that renders as nothing: "ci-x" followed
// by one prints as "ci-x", so a second certificate could pass for the
// first in a list, a log or a dashboard.
//
// Unicode's Default_Ignorable_Code_Point property is what a renderer may
// draw as nothing, but Go has no table for it. DerivedCoreProperties.txt
// defines it as Other_Default_Ignorable_Code_Point + Cf +
// Variation_Selector - White_Space - a few format characters that
// render (prepended concatenation marks, interlinear annotations); it is
// built here from the three Go tables, minus White_Space. Keeping the
// few visible Cf characters in is stricter than the property, which is
// the safe side for a name. That covers the Hangul fillers (U+115F,
// U+1160, U+3164, U+FFA0), the combining grapheme joiner (U+034F), the
// variation selectors (U+FE00-U+FE0F, U+E0100-U+E01EF) and the zero
// widths. U+2800 (Braille pattern blank) is not in the property but is
// drawn as a blank cell by every font that has it: refused too.
func Invisible(r rune) bool {
	if unicode.Is(unicode.White_Space, r) {
		return false
	}
	return r == '\u2800' || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r)
}

// dnSpecials are the characters RFC 4514 escapes in a DN string ("," "+"
// ";" "<" ">" "\" and the quote, "#" at the start, "=" by OpenSSL): in a
// CN they are data, but a rule that matches the DN as text (Access's
// cert_subject_dn contains "O=system:masters") cannot tell
// CN=ci-x\,O=system:masters from an O. "/" is OpenSSL's old one-line
// separator (/CN=a/O=b), read the same way by rules written for it.
const dnSpecials = `,+;<>="\#/`

// CheckCNSpecials refuses a CN holding a DN metacharacter, naming it.
// Callers skip it when the user allowed them, and for the renewal of a
// CN the inventory records (it was allowed then).
func CheckCNSpecials(cn string) *pkix.Error {
	i := strings.IndexAny(cn, dnSpecials)
	if i < 0 {
		return nil
	}
	return &pkix.Error{Field: "CN", Msg: fmt.Sprintf("the CN %q contains %q, which is part of a DN's syntax: a rule matching the subject DN as text could read what follows as another attribute", cn, cn[i:i+1]),
		Hint: "choose a CN of letters, digits, '-', '_', '.', ':', '@' and spaces; if the character is wanted, pass %s", HintArgs: []any{pkix.OptAllowDNSpecials}}
}

// HasCNSpecials reports whether CheckCNSpecials would refuse cn.
func HasCNSpecials(cn string) bool { return strings.ContainsAny(cn, dnSpecials) }

var OidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// CheckOneCN refuses a request whose subject has several CNs: Go and
// cfssl keep only the last one, so the certificate would silently name
// another device than the one the request's first CN says.
func CheckOneCN(file string, csr *x509.CertificateRequest) *pkix.Error {
	var cns []string
	for _, a := range csr.Subject.Names {
		if a.Type.Equal(OidCommonName) {
			cns = append(cns, fmt.Sprintf("%q", fmt.Sprint(a.Value)))
		}
	}
	if len(cns) < 2 {
		return nil
	}
	return pkix.Errorf(file, "the request has %d CNs (%s): a certificate names one device", len(cns), strings.Join(cns, ", ")).
		WithHint("make the request again with one CN (openssl req -subj /CN=device-7)")
}
