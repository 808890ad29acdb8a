package inspect

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
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// CertDetail is everything inspect shows about a certificate.
type CertDetail struct {
	Subject          string                  `json:"subject"`
	Issuer           string                  `json:"issuer"`
	Serial           string                  `json:"serial"`
	NotBefore        time.Time               `json:"not_before"`
	NotAfter         time.Time               `json:"not_after"`
	DaysLeft         int                     `json:"days_left"`
	Key              string                  `json:"key"`
	SignatureAlg     string                  `json:"signature_algorithm"`
	KeyUsage         []string                `json:"key_usage"`
	ExtKeyUsage      []string                `json:"extended_key_usage"`
	SANs             []string                `json:"subject_alt_names"`
	IsCA             bool                    `json:"is_ca"`
	BasicConstraints string                  `json:"basic_constraints"`
	SKI              string                  `json:"subject_key_id"`
	AKI              string                  `json:"authority_key_id"`
	SHA1             string                  `json:"sha1"`
	SHA256           string                  `json:"sha256"`
	Access           access.AccessFields     `json:"access"`
	Headers          access.ForwardedHeaders `json:"forwarded_headers"`
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

// CRLDetail is what inspect shows about a CRL, from the same reader as
// crl show.
type CRLDetail struct {
	Issuer     string     `json:"issuer"`
	Kind       string     `json:"kind"` // complete, delta, partitioned, indirect
	Number     string     `json:"number"`
	ThisUpdate time.Time  `json:"this_update"`
	NextUpdate *time.Time `json:"next_update"` // null when the CRL has none
	SigAlg     string     `json:"signature_algorithm"`
	Count      int        `json:"count"`
	Refusals   []string   `json:"refusals"`
	Warnings   []string   `json:"warnings"`
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
	// Unreadable counts the blocks in Other that could not be parsed; a
	// file whose every block is unreadable is an error, not a report.
	Unreadable int `json:"-"`
	keys       []crypto.Signer
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
		return nil, pkix.Errorf(file, "is empty")
	}
	if bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		in.Format = "PEM"
		rest := trimmed
		blocks := 0
		for {
			block, after := pem.Decode(rest)
			if block == nil {
				break
			}
			blocks++
			rest = after
			in.add(file, block.Type, block.Bytes, block.Headers, now)
		}
		// pem.Decode skips a block it cannot decode: count BEGIN lines.
		if bytes.Contains(rest, []byte("-----BEGIN ")) || bytes.Count(trimmed, []byte("-----BEGIN ")) > blocks {
			return nil, pkix.Errorf(file, "a PEM block is truncated or damaged")
		}
	} else {
		// DER is parsed untrimmed: its last byte may be 0x20 or 0x0a.
		in.Format = "DER"
		if isPKCS12(data) {
			in.Format = "PKCS#12"
			if err := in.addPKCS12(file, data, p12, now); err != nil {
				return nil, err
			}
		} else if !in.addDER(bytes.TrimLeft(data, " \t\r\n"), now) {
			return nil, pkix.Errorf(file, "is neither PEM nor a DER certificate, CSR, CRL or private key")
		}
	}
	if len(in.Certificates)+len(in.CSRs)+len(in.CRLs)+len(in.Keys)+len(in.Other) == 0 {
		return nil, pkix.Errorf(file, "holds nothing mtlsctl can read")
	}
	// Nothing read: unparseable blocks, or (in PEM) only kinds mtlsctl
	// does not read, is an error with what each block is.
	if (in.Unreadable > 0 || in.Format == "PEM") && len(in.Certificates)+len(in.CSRs)+len(in.CRLs)+len(in.Keys) == 0 {
		return nil, pkix.Errorf(file, "%s", strings.Join(in.Other, "; ")).WithHint("'openssl asn1parse -in FILE' shows its structure")
	}
	return in, nil
}

func (in *Inspection) add(file, typ string, der []byte, headers map[string]string, now time.Time) {
	var err error
	switch {
	case typ == "CERTIFICATE" || typ == "X509 CERTIFICATE": // the second an old label OpenSSL still reads
		var c *x509.Certificate
		if c, err = x509.ParseCertificate(der); err == nil {
			in.Certificates = append(in.Certificates, DescribeCert(c, now))
			return
		}
	case strings.Contains(typ, "CERTIFICATE REQUEST"):
		var r *x509.CertificateRequest
		if r, err = x509.ParseCertificateRequest(der); err == nil {
			in.CSRs = append(in.CSRs, describeCSR(r))
			return
		}
	case typ == "X509 CRL":
		var r *crl.RevocationList
		if r, err = crl.ScanCRLDER(file, der, nil); err == nil {
			in.CRLs = append(in.CRLs, describeCRL(r))
			return
		}
	case strings.Contains(typ, "ENCRYPTED PRIVATE KEY") || (strings.Contains(typ, "PRIVATE KEY") && headers["Proc-Type"] != ""):
		in.Keys = append(in.Keys, KeyDetail{Type: "encrypted private key", Encrypted: true, MatchedBy: []string{}})
		return
	case strings.Contains(typ, "PRIVATE KEY"):
		var k crypto.Signer
		if k, err = derhelpers.ParsePrivateKeyDER(der); err == nil {
			in.addKey(k)
			return
		}
	default:
		in.Other = append(in.Other, fmt.Sprintf("a %s block, which mtlsctl does not read", typ))
		return
	}
	in.Unreadable++
	in.Other = append(in.Other, fmt.Sprintf("a PEM %s block that cannot be parsed: %s", typ, parseReason(file, err)))
}

// parseReason is a parser's error without the "x509: " prefix or the file
// name the caller already printed.
func parseReason(file string, err error) string {
	msg := strings.TrimPrefix(err.Error(), "x509: ")
	msg = strings.TrimPrefix(msg, file+": ")
	return strings.TrimPrefix(msg, "not a valid CRL: ")
}

// addDER reads a DER file as the kind its structure says it is, and when
// it cannot be read, says why in the terms of that kind.
func (in *Inspection) addDER(der []byte, now time.Time) bool {
	c, certErr := x509.ParseCertificate(der)
	if certErr == nil {
		in.Certificates = append(in.Certificates, DescribeCert(c, now))
		return true
	}
	r, csrErr := x509.ParseCertificateRequest(der)
	if csrErr == nil {
		in.CSRs = append(in.CSRs, describeCSR(r))
		return true
	}
	rl, crlErr := crl.ScanCRLDER(in.File, der, nil)
	if crlErr == nil {
		in.CRLs = append(in.CRLs, describeCRL(rl))
		return true
	}
	if k, err := derhelpers.ParsePrivateKeyDER(der); err == nil {
		in.addKey(k)
		return true
	}
	var kind string
	var err error
	switch derShape(der) {
	case "certificate":
		kind, err = "CERTIFICATE", certErr
	case "CSR":
		kind, err = "CERTIFICATE REQUEST", csrErr
	case "CRL":
		kind, err = "X509 CRL", crlErr
	default:
		return false
	}
	in.Unreadable++
	in.Other = append(in.Other, fmt.Sprintf("a DER %s that cannot be parsed: %s", kind, parseReason(in.File, err)))
	return true
}

// derShape guesses what a signed DER structure is from the start of what
// it signs: a certificate's starts with [0] version or a serial and an
// AlgorithmIdentifier then a Name then a Validity (SEQUENCE); a request's
// with INTEGER 0 then a Name then a SubjectPublicKeyInfo; a CRL's with an
// optional INTEGER 1, an AlgorithmIdentifier, a Name, then a time.
func derShape(der []byte) string {
	in := cryptobyte.String(der)
	var outer, tbs cryptobyte.String
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return ""
	}
	if tbs.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return "certificate"
	}
	var first cryptobyte.String
	var tag cbasn1.Tag
	if !tbs.ReadAnyASN1(&first, &tag) {
		return ""
	}
	if tag == cbasn1.INTEGER {
		if !tbs.ReadAnyASN1(&first, &tag) {
			return ""
		}
	}
	// first is now an AlgorithmIdentifier (certificate v1, CRL) or a Name
	// (CSR): what follows tells them apart.
	var second, third cryptobyte.String
	var tag2, tag3 cbasn1.Tag
	if !tbs.ReadAnyASN1(&second, &tag2) {
		return ""
	}
	tbs.ReadAnyASN1(&third, &tag3)
	switch {
	case tag2 == cbasn1.SEQUENCE && (tag3 == cbasn1.UTCTime || tag3 == cbasn1.GeneralizedTime):
		return "CRL"
	case tag2 == cbasn1.SEQUENCE && tag3 == cbasn1.SEQUENCE:
		return "certificate"
	case tag2 == cbasn1.SEQUENCE:
		return "CSR"
	}
	return ""
}

func (in *Inspection) addKey(k crypto.Signer) {
	in.keys = append(in.keys, k)
	in.Keys = append(in.Keys, KeyDetail{Type: x509text.KeyDescription(k.Public()), MatchedBy: []string{}})
}

// MatchKeys records, for each key found, which of the candidate
// certificates (path → certificates) carry its public key.
func (in *Inspection) MatchKeys(candidates map[string][]*x509.Certificate, order []string) {
	for i, k := range in.keys {
		for _, path := range order {
			for _, c := range candidates[path] {
				if pemutil.KeyMatches(c, k) {
					in.Keys[i].MatchedBy = append(in.Keys[i].MatchedBy, path+" ("+x509text.CommonNameOf(c)+")")
				}
			}
		}
	}
}

// DescribeCert collects a certificate's details and its Access view.
func DescribeCert(c *x509.Certificate, now time.Time) CertDetail {
	d := CertDetail{
		Serial: x509text.SerialHex(c.SerialNumber), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		DaysLeft: int(math.Floor(c.NotAfter.Sub(now).Hours() / 24)), Key: x509text.KeyDescription(c.PublicKey),
		SignatureAlg: x509text.CertSignatureAlgorithm(c), KeyUsage: keyUsageNames(c.KeyUsage), ExtKeyUsage: extKeyUsageNames(c),
		SANs: sanList(c.DNSNames, c.EmailAddresses, c.IPAddresses, c.URIs), IsCA: c.IsCA,
		SKI: colonHex(c.SubjectKeyId), AKI: colonHex(c.AuthorityKeyId), SHA256: x509text.FingerprintSHA256(c),
		Access: access.AccessView(c), Headers: access.Forwarded(c),
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
	subject := x509text.FormatDN(r.RawSubject)
	return CSRDetail{Subject: subject, Key: x509text.KeyDescription(r.PublicKey), SignatureAlg: x509text.SignatureAlgorithmOf(r.Raw),
		SignatureValid: r.CheckSignature() == nil, SANs: sanList(r.DNSNames, r.EmailAddresses, r.IPAddresses, r.URIs)}
}

func describeCRL(r *crl.RevocationList) CRLDetail {
	d := CRLDetail{Issuer: r.IssuerName(), Kind: r.Kind, ThisUpdate: r.ThisUpdate.UTC(), SigAlg: r.SignatureAlgorithm, Count: r.Count,
		Refusals: append([]string{}, r.Refusals...), Warnings: append([]string{}, r.Warnings...)}
	if !r.NextUpdate.IsZero() {
		next := r.NextUpdate.UTC()
		d.NextUpdate = &next
	}
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
			in.Other = append(in.Other, pkix.Textf("PKCS#12 file, not opened: no password given (set MTLSCTL_P12_PASSWORD or %s to look inside)", pkix.OptPasswordFile).String())
		case p12.Required && wrong:
			return pkix.Errorf(file, "the password in %s does not open this PKCS#12 file", p12.From).
				WithNext("check the password file; without %s inspect only names the file", pkix.OptPasswordFile)
		case p12.Required:
			return pkix.Errorf(file, "cannot open this PKCS#12 file: %v", err)
		case wrong:
			in.Other = append(in.Other, pkix.Textf("PKCS#12 file that this password does not open (the one in %s; give its own with %s)", p12.From, pkix.OptPasswordFile).String())
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
		in.Keys[len(in.Keys)-1].MatchedBy = append(in.Keys[len(in.Keys)-1].MatchedBy, "the certificate in this file ("+x509text.CommonNameOf(cert)+")")
		if !pemutil.KeyMatches(cert, k) {
			in.Keys[len(in.Keys)-1].MatchedBy = []string{}
		}
	}
	return nil
}
