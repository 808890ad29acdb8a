package ca

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"strings"
)

// A renewal issues exactly the subject it renews: every attribute (O,
// several OUs, UID, emailAddress, street, ...) in the same RDNs, byte for
// byte. cfssl cannot: it builds the subject from a pkix.Name, which keeps
// one RDN per attribute type (several OUs become one multi-valued RDN, a
// multi-valued RDN of other types is split) and, for a subject it is
// given, only C, ST, L, O, OU, CN and serialNumber. So cfssl signs under
// its profile (validity, usages, extensions, serial), and WithSubject then
// signs the same certificate again with the recorded subject in place of
// cfssl's; the certificate cfssl made is dropped, never written.

// WithSubject makes issued carry the DER subject raw: unchanged when it
// already does, else signed again by is with every other field (serial,
// validity, every extension as encoded) the same.
func (is *Issuer) WithSubject(issued *Issued, raw []byte) error {
	if bytes.Equal(issued.Cert.RawSubject, raw) {
		return nil
	}
	if _, err := x509text.ParseDN(raw); err != nil {
		return fmt.Errorf("the subject to keep: %v", err)
	}
	t := *issued.Cert
	t.RawSubject = raw
	// Go writes the extensions it knows from the template's fields; one
	// in ExtraExtensions replaces its own. All of them as cfssl encoded
	// them, in its order: nothing but the subject changes.
	t.ExtraExtensions = issued.Cert.Extensions
	der, err := x509.CreateCertificate(rand.Reader, &t, is.Cert, issued.Cert.PublicKey, is.Key)
	if err != nil {
		return fmt.Errorf("signing with the recorded subject: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("signing with the recorded subject: %v", err)
	}
	if !bytes.Equal(cert.RawSubject, raw) || cert.SerialNumber.Cmp(issued.Cert.SerialNumber) != 0 || !cert.NotAfter.Equal(issued.Cert.NotAfter) {
		return fmt.Errorf("signing with the recorded subject: the certificate came out different; nothing was written")
	}
	issued.Cert = cert
	issued.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return nil
}

// SubjectDifference says how the subject asked (a device's new request)
// differs from the subject held (its certificate's), attribute by
// attribute, compared as RFC 5280 compares names (case and space folded):
// "" when both hold the same attributes.
func SubjectDifference(held, asked []byte) (string, error) {
	h, err := subjectAttrs(held)
	if err != nil {
		return "", err
	}
	a, err := subjectAttrs(asked)
	if err != nil {
		return "", fmt.Errorf("the request's subject: %v", err)
	}
	count := map[string]int{}
	for _, x := range h {
		count[x.key]++
	}
	var extra, missing []string
	for _, x := range a {
		if count[x.key] > 0 {
			count[x.key]--
			continue
		}
		extra = append(extra, x.shown)
	}
	for _, x := range h {
		if count[x.key] > 0 {
			count[x.key]--
			missing = append(missing, x.shown)
		}
	}
	var parts []string
	if len(extra) > 0 {
		parts = append(parts, "asks for "+strings.Join(extra, ", "))
	}
	if len(missing) > 0 {
		parts = append(parts, "leaves out "+strings.Join(missing, ", "))
	}
	return strings.Join(parts, " and "), nil
}

type subjectAttr struct{ key, shown string }

func subjectAttrs(raw []byte) ([]subjectAttr, error) {
	rdns, err := x509text.ParseDN(raw)
	if err != nil {
		return nil, err
	}
	var out []subjectAttr
	for _, rdn := range rdns {
		for _, a := range rdn {
			name, _ := x509text.AttrName(a.Type)
			v, isString := x509text.ValueBytes(a.Value)
			key := a.Type.String() + "=#" + hex.EncodeToString(a.Value.FullBytes)
			var b strings.Builder
			b.WriteString(name + "=")
			if isString {
				key = a.Type.String() + "=" + x509text.ASCIILower(x509text.FoldASCIISpace(v))
				x509text.Escape2253(&b, v)
			} else {
				b.WriteString("#" + strings.ToUpper(hex.EncodeToString(a.Value.FullBytes)))
			}
			out = append(out, subjectAttr{key: key, shown: b.String()})
		}
	}
	return out, nil
}
