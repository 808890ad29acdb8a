package x509text

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"

	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// CertSummary is what mtlsctl prints about a certificate it wrote.
type CertSummary struct {
	Subject   string    `json:"subject"`
	CN        string    `json:"cn"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	SHA256    string    `json:"sha256"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	IsCA      bool      `json:"is_ca"`
	Key       string    `json:"key"`
	SigAlg    string    `json:"signature_algorithm"`
}

// Summarize extracts the printable facts of a certificate.
func Summarize(c *x509.Certificate) CertSummary {
	return CertSummary{
		Subject:   SubjectDN(c),
		CN:        c.Subject.CommonName,
		Issuer:    IssuerDN(c),
		Serial:    SerialHex(c.SerialNumber),
		SHA256:    FingerprintSHA256(c),
		NotBefore: c.NotBefore.UTC(),
		NotAfter:  c.NotAfter.UTC(),
		IsCA:      c.IsCA,
		Key:       KeyDescription(c.PublicKey),
		SigAlg:    CertSignatureAlgorithm(c),
	}
}

// SerialHex is the serial as Access's certSerial shows it: uppercase hex of
// the integer's bytes, no colons, an even number of digits (as OpenSSL's
// -serial prints it).
func SerialHex(n *big.Int) string {
	switch n.Sign() {
	case 0:
		return "00"
	case -1: // invalid in RFC 5280 but found in the wild; OpenSSL prints it so
		return "-" + strings.ToUpper(hex.EncodeToString(n.Bytes()))
	}
	return strings.ToUpper(hex.EncodeToString(n.Bytes()))
}

// FingerprintSHA256 is the lowercase hex SHA-256 of the DER certificate.
func FingerprintSHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return hex.EncodeToString(sum[:])
}

// Printable returns s with everything that is not printable escaped the
// way Go quotes strings (\n, \x1b, \u202e, \x00; invalid UTF-8 as \xNN),
// so that text from a certificate, a request or a client cannot move the
// cursor, recolor the terminal, forge a line or hide characters. Printable
// text, spaces and backslashes included, is returned unchanged.
func Printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || (r != ' ' && !unicode.IsPrint(r)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || (r != utf8.RuneError && unicode.IsPrint(r)):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRune(r) // '\n', '\x1b', '\u202e', '�'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// cn names a certificate in messages: its most specific attribute as
// FormatDN prints it when that is its CN, else its whole name.
func CommonNameOf(c *x509.Certificate) string {
	dn := SubjectDN(c)
	if c.Subject.CommonName != "" {
		if first, _, _ := strings.Cut(dn, ","); strings.HasPrefix(first, "CN=") {
			return first
		}
	}
	return dn
}

// signatureAlgorithmName names c's signature algorithm even when Go does
// not support it, from the OID in the certificate itself.
func CertSignatureAlgorithm(c *x509.Certificate) string {
	if c.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		return c.SignatureAlgorithm.String()
	}
	oid, params, ok := certSignatureAlgorithm(c.Raw)
	if !ok {
		return "an unknown algorithm"
	}
	return SignatureAlgorithmName(oid, params) + " (" + oid.String() + ")"
}

// KeyDescription is "RSA 4096", "ECDSA P-256", "Ed25519".
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
