package pkix

import (
	"encoding/asn1"

	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/cloudflare/cfssl/helpers/derhelpers"
)

// CertDetail is everything inspect shows about a certificate.
type CertDetail struct {
	Subject          string           `json:"subject"`
	Issuer           string           `json:"issuer"`
	Serial           string           `json:"serial"`
	NotBefore        time.Time        `json:"not_before"`
	NotAfter         time.Time        `json:"not_after"`
	DaysLeft         int              `json:"days_left"`
	Key              string           `json:"key"`
	SignatureAlg     string           `json:"signature_algorithm"`
	KeyUsage         []string         `json:"key_usage"`
	ExtKeyUsage      []string         `json:"extended_key_usage"`
	SANs             []string         `json:"subject_alt_names"`
	IsCA             bool             `json:"is_ca"`
	BasicConstraints string           `json:"basic_constraints"`
	SKI              string           `json:"subject_key_id"`
	AKI              string           `json:"authority_key_id"`
	SHA1             string           `json:"sha1"`
	SHA256           string           `json:"sha256"`
	Access           AccessFields     `json:"access"`
	Headers          ForwardedHeaders `json:"forwarded_headers"`
}

// CSRDetail is what inspect shows about a certificate request.
type CSRDetail struct {
	Subject        string   `json:"subject"`
	Key            string   `json:"key"`
	SignatureAlg   string   `json:"signature_algorithm"`
	SignatureValid bool     `json:"signature_valid"`
	SANs           []string `json:"subject_alt_names"`
}

// KeyDetail describes a private key without any key material: its type,
// and which certificates hold its public half.
type KeyDetail struct {
	Type      string   `json:"type"`
	Encrypted bool     `json:"encrypted"`
	MatchedBy []string `json:"certificates"`
}

// CRLDetail is what inspect shows about a CRL.
type CRLDetail struct {
	Issuer     string    `json:"issuer"`
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Count      int       `json:"count"`
}

// Inspection is one file's contents, kind by kind, as detected from the
// bytes (PEM or DER), never from the name.
type Inspection struct {
	File         string       `json:"file"`
	Format       string       `json:"format"` // PEM or DER
	Certificates []CertDetail `json:"certificates,omitempty"`
	CSRs         []CSRDetail  `json:"csrs,omitempty"`
	CRLs         []CRLDetail  `json:"crls,omitempty"`
	Keys         []KeyDetail  `json:"keys,omitempty"`
	Other        []string     `json:"other,omitempty"`
	keys         []crypto.Signer
}

// P12Password is what Inspect opens PKCS#12 files with.
type P12Password struct {
	Value string
	// From says where it came from, for messages: "" when no password
	// was given, else MTLSCTL_P12_PASSWORD or the password file's name.
	From string
	// Required makes a password that does not open a PKCS#12 file an
	// error: it was given for that file (--password-file). Otherwise (an
	// environment variable set for other files) the file is only named.
	Required bool
}

// Inspect reads any of the kinds mtlsctl handles from data. The keys it
// finds are kept (unexported) so MatchKeys can pair them with certificates.
// p12Password opens PKCS#12 files; without the right one they are only
// recognised.
func Inspect(file string, data []byte, now time.Time, p12Password string) (*Inspection, error) {
	pw := P12Password{Value: p12Password}
	if p12Password != "" {
		pw.From = "the password"
	}
	return InspectWith(file, data, now, pw)
}

// InspectWith is Inspect with a password whose origin is known: one given
// with Required that does not open a PKCS#12 file is an error.
func InspectWith(file string, data []byte, now time.Time, p12 P12Password) (*Inspection, error) {
	in := &Inspection{File: file}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errorf(file, "is empty")
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		in.Format = "PEM"
		rest := trimmed
		for {
			block, after := pem.Decode(rest)
			if block == nil {
				break
			}
			rest = after
			in.add(file, block.Type, block.Bytes, block.Headers, now)
		}
		if bytes.Contains(rest, []byte("-----BEGIN ")) {
			return nil, errorf(file, "a PEM block is truncated or damaged")
		}
	} else {
		// DER is parsed untrimmed: its last byte may be 0x20 or 0x0a.
		in.Format = "DER"
		if isPKCS12(data) {
			in.Format = "PKCS#12"
			if err := in.addPKCS12(file, data, p12, now); err != nil {
				return nil, err
			}
		} else if !in.addDER(data, now) {
			return nil, errorf(file, "is neither PEM nor a DER certificate, CSR, CRL or private key")
		}
	}
	if len(in.Certificates)+len(in.CSRs)+len(in.CRLs)+len(in.Keys)+len(in.Other) == 0 {
		return nil, errorf(file, "holds nothing mtlsctl can read")
	}
	return in, nil
}

func (in *Inspection) add(file, typ string, der []byte, headers map[string]string, now time.Time) {
	switch {
	case typ == "CERTIFICATE":
		if c, err := x509.ParseCertificate(der); err == nil {
			in.Certificates = append(in.Certificates, DescribeCert(c, now))
			return
		}
	case strings.Contains(typ, "CERTIFICATE REQUEST"):
		if r, err := x509.ParseCertificateRequest(der); err == nil {
			in.CSRs = append(in.CSRs, describeCSR(r))
			return
		}
	case typ == "X509 CRL":
		if r, err := x509.ParseRevocationList(der); err == nil {
			in.CRLs = append(in.CRLs, describeCRL(r))
			return
		}
	case strings.Contains(typ, "ENCRYPTED PRIVATE KEY") || (strings.Contains(typ, "PRIVATE KEY") && headers["Proc-Type"] != ""):
		in.Keys = append(in.Keys, KeyDetail{Type: "encrypted private key", Encrypted: true, MatchedBy: []string{}})
		return
	case strings.Contains(typ, "PRIVATE KEY"):
		if k, err := derhelpers.ParsePrivateKeyDER(der); err == nil {
			in.addKey(k)
			return
		}
	}
	in.Other = append(in.Other, fmt.Sprintf("%s block that cannot be parsed", typ))
}

func (in *Inspection) addDER(der []byte, now time.Time) bool {
	if c, err := x509.ParseCertificate(der); err == nil {
		in.Certificates = append(in.Certificates, DescribeCert(c, now))
		return true
	}
	if r, err := x509.ParseCertificateRequest(der); err == nil {
		in.CSRs = append(in.CSRs, describeCSR(r))
		return true
	}
	if r, err := x509.ParseRevocationList(der); err == nil {
		in.CRLs = append(in.CRLs, describeCRL(r))
		return true
	}
	if k, err := derhelpers.ParsePrivateKeyDER(der); err == nil {
		in.addKey(k)
		return true
	}
	return false
}

func (in *Inspection) addKey(k crypto.Signer) {
	in.keys = append(in.keys, k)
	in.Keys = append(in.Keys, KeyDetail{Type: KeyDescription(k.Public()), MatchedBy: []string{}})
}

// MatchKeys records, for each key found, which of the candidate
// certificates (path → certificates) carry its public key.
func (in *Inspection) MatchKeys(candidates map[string][]*x509.Certificate, order []string) {
	for i, k := range in.keys {
		for _, path := range order {
			for _, c := range candidates[path] {
				if KeyMatches(c, k) {
					in.Keys[i].MatchedBy = append(in.Keys[i].MatchedBy, path+" ("+cn(c)+")")
				}
			}
		}
	}
}

// DescribeCert collects a certificate's details and its Access view.
func DescribeCert(c *x509.Certificate, now time.Time) CertDetail {
	d := CertDetail{
		Serial: SerialHex(c.SerialNumber), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		DaysLeft: int(math.Floor(c.NotAfter.Sub(now).Hours() / 24)), Key: KeyDescription(c.PublicKey),
		SignatureAlg: signatureAlgorithmName(c), KeyUsage: keyUsageNames(c.KeyUsage), ExtKeyUsage: extKeyUsageNames(c),
		SANs: sanList(c.DNSNames, c.EmailAddresses, c.IPAddresses, c.URIs), IsCA: c.IsCA,
		SKI: colonHex(c.SubjectKeyId), AKI: colonHex(c.AuthorityKeyId), SHA256: FingerprintSHA256(c),
		Access: AccessView(c), Headers: Forwarded(c),
	}
	d.Subject, d.Issuer = d.Access.CertSubjectDN, d.Access.CertIssuerDN
	d.SHA1 = d.Access.CertFingerprintSHA1
	switch {
	case !c.BasicConstraintsValid:
		d.BasicConstraints = "absent"
	case !c.IsCA:
		d.BasicConstraints = "CA:FALSE"
	case c.MaxPathLen > 0 || c.MaxPathLenZero:
		d.BasicConstraints = fmt.Sprintf("CA:TRUE, pathlen:%d", c.MaxPathLen)
	default:
		d.BasicConstraints = "CA:TRUE"
	}
	return d
}

func describeCSR(r *x509.CertificateRequest) CSRDetail {
	subject, err := DNRFC2253(r.RawSubject)
	if err != nil {
		subject = r.Subject.String()
	}
	return CSRDetail{Subject: subject, Key: KeyDescription(r.PublicKey), SignatureAlg: r.SignatureAlgorithm.String(),
		SignatureValid: r.CheckSignature() == nil, SANs: sanList(r.DNSNames, r.EmailAddresses, r.IPAddresses, r.URIs)}
}

func describeCRL(r *x509.RevocationList) CRLDetail {
	issuer, err := DNRFC2253(r.RawIssuer)
	if err != nil {
		issuer = r.Issuer.String()
	}
	d := CRLDetail{Issuer: issuer, ThisUpdate: r.ThisUpdate.UTC(), NextUpdate: r.NextUpdate.UTC(), Count: len(r.RevokedCertificateEntries)}
	if r.Number != nil {
		d.Number = r.Number.String()
	}
	return d
}

func colonHex(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	h := strings.ToUpper(hex.EncodeToString(b))
	var out strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			out.WriteByte(':')
		}
		out.WriteString(h[i : i+2])
	}
	return out.String()
}

func keyUsageNames(ku x509.KeyUsage) []string {
	names := []string{"digitalSignature", "contentCommitment", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	out := []string{}
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func extKeyUsageNames(c *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny: "any", x509.ExtKeyUsageServerAuth: "serverAuth", x509.ExtKeyUsageClientAuth: "clientAuth",
		x509.ExtKeyUsageCodeSigning: "codeSigning", x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping: "timeStamping", x509.ExtKeyUsageOCSPSigning: "OCSPSigning",
	}
	out := []string{}
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("eku(%d)", u))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}

func sanList(dns, emails []string, ips []net.IP, uris []*url.URL) []string {
	out := []string{}
	for _, d := range dns {
		out = append(out, "DNS:"+d)
	}
	for _, e := range emails {
		out = append(out, "email:"+e)
	}
	for _, ip := range ips {
		out = append(out, "IP:"+ip.String())
	}
	for _, u := range uris {
		out = append(out, "URI:"+u.String())
	}
	return out
}

// isPKCS12 recognises a PFX: SEQUENCE { INTEGER 3, ContentInfo { OID
// pkcs7-data ... } ...}.
func isPKCS12(der []byte) bool {
	in := cryptobyte.String(der)
	var pfx, ci cryptobyte.String
	var version int
	var oid asn1.ObjectIdentifier
	return in.ReadASN1(&pfx, cbasn1.SEQUENCE) && pfx.ReadASN1Integer(&version) && version == 3 &&
		pfx.ReadASN1(&ci, cbasn1.SEQUENCE) && ci.ReadASN1ObjectIdentifier(&oid) &&
		oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1})
}

// addPKCS12 opens a PKCS#12 file with p12. Without a password it is only
// named (unless it has none); a password given for it (Required) that
// does not open it is an error, any other only a note.
func (in *Inspection) addPKCS12(file string, der []byte, p12 P12Password, now time.Time) error {
	key, cert, cas, err := pkcs12.DecodeChain(der, p12.Value)
	if err != nil {
		wrong := errors.Is(err, pkcs12.ErrIncorrectPassword)
		switch {
		case p12.From == "" && wrong:
			in.Other = append(in.Other, "PKCS#12 file, not opened: no password given (set MTLSCTL_P12_PASSWORD or --password-file to look inside)")
		case p12.Required && wrong:
			return errorf(file, "the password in %s does not open this PKCS#12 file", p12.From).
				withHint("check the password file; without --password-file inspect only names the file")
		case p12.Required:
			return errorf(file, "cannot open this PKCS#12 file: %v", err)
		case wrong:
			in.Other = append(in.Other, fmt.Sprintf("PKCS#12 file that this password does not open (the one in %s; give its own with --password-file)", p12.From))
		default:
			in.Other = append(in.Other, fmt.Sprintf("PKCS#12 file that cannot be opened: %v", err))
		}
		return nil
	}
	in.Certificates = append(in.Certificates, DescribeCert(cert, now))
	for _, c := range cas {
		in.Certificates = append(in.Certificates, DescribeCert(c, now))
	}
	if k, ok := key.(crypto.Signer); ok {
		in.addKey(k)
		in.Keys[len(in.Keys)-1].MatchedBy = append(in.Keys[len(in.Keys)-1].MatchedBy, "the certificate in this file ("+cn(cert)+")")
		if !KeyMatches(cert, k) {
			in.Keys[len(in.Keys)-1].MatchedBy = []string{}
		}
	}
	return nil
}
