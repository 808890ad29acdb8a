package access

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"strings"
	"time"
)

// AccessFields is a client certificate as Cloudflare Access describes it
// to a Worker (request.cf.tlsClientAuth) and, with certificate forwarding,
// to the origin: the same names, the same string formats.
type AccessFields struct {
	CertIssuerDN          string `json:"certIssuerDN"`
	CertSubjectDN         string `json:"certSubjectDN"`
	CertIssuerDNLegacy    string `json:"certIssuerDNLegacy"`
	CertSubjectDNLegacy   string `json:"certSubjectDNLegacy"`
	CertSerial            string `json:"certSerial"`
	CertFingerprintSHA1   string `json:"certFingerprintSHA1"`
	CertFingerprintSHA256 string `json:"certFingerprintSHA256"`
	CertNotBefore         string `json:"certNotBefore"`
	CertNotAfter          string `json:"certNotAfter"`
	CertSKI               string `json:"certSKI"`
	CertIssuerSKI         string `json:"certIssuerSKI"`
}

// ForwardedHeaders are the headers an origin receives with
// client_certificate_forwarding on.
type ForwardedHeaders struct {
	DERBase64 string `json:"Cf-Client-Cert-Der-Base64"`
	SHA256    string `json:"Cf-Client-Cert-Sha256"`
}

// OpenSSLTime is OpenSSL's (and so Access's) date format:
// "Dec 22 19:39:00 2018 GMT".
func OpenSSLTime(t time.Time) string {
	return t.UTC().Format("Jan _2 15:04:05 2006 GMT")
}

// AccessView computes the fields Access shows for c.
func AccessView(c *x509.Certificate) AccessFields {
	subject, issuer := x509text.SubjectDN(c), x509text.IssuerDN(c)
	subjectLegacy, _ := x509text.DNLegacy(c.RawSubject)
	issuerLegacy, _ := x509text.DNLegacy(c.RawIssuer)
	s1 := sha1.Sum(c.Raw)
	return AccessFields{
		CertIssuerDN:          issuer,
		CertSubjectDN:         subject,
		CertIssuerDNLegacy:    issuerLegacy,
		CertSubjectDNLegacy:   subjectLegacy,
		CertSerial:            x509text.SerialHex(c.SerialNumber),
		CertFingerprintSHA1:   hex.EncodeToString(s1[:]),
		CertFingerprintSHA256: x509text.FingerprintSHA256(c),
		CertNotBefore:         OpenSSLTime(c.NotBefore),
		CertNotAfter:          OpenSSLTime(c.NotAfter),
		CertSKI:               strings.ToUpper(hex.EncodeToString(c.SubjectKeyId)),
		CertIssuerSKI:         strings.ToUpper(hex.EncodeToString(c.AuthorityKeyId)),
	}
}

// Forwarded computes the forwarded headers for c.
func Forwarded(c *x509.Certificate) ForwardedHeaders {
	sum := sha256.Sum256(c.Raw)
	return ForwardedHeaders{DERBase64: base64.StdEncoding.EncodeToString(c.Raw), SHA256: hex.EncodeToString(sum[:])}
}
