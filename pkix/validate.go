package pkix

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is a rule's verdict.
type Status string

const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Check is one rule applied to one thing.
type Check struct {
	Rule    string `json:"rule"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Hint    string `json:"hint,omitempty"`
	// HintArgs are the commands and flags Hint names (see Text): the CLI
	// spells them into Hint before the check is shown.
	HintArgs []any `json:"-"`
}

// CertChecks is the checklist of one certificate in an upload.
type CertChecks struct {
	Index    int       `json:"index"` // 1-based position in the bundle
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	Serial   string    `json:"serial"`
	NotAfter time.Time `json:"not_after"`
	Checks   []Check   `json:"checks"`
	cert     *x509.Certificate
}

// UploadReport is the verdict on a CA bundle for Access's "Certificate
// content" field, and on the associated hostnames.
type UploadReport struct {
	Bundle       []Check      `json:"bundle"`
	Certificates []CertChecks `json:"certificates"`
	Hostnames    []Check      `json:"hostnames"`
	Accepted     bool         `json:"accepted"`
	Problems     int          `json:"problems"`
	Warnings     int          `json:"warnings"`
	// FixedOrder is the bundle in the right order, when it was only out of
	// order; nil otherwise.
	FixedOrder []*x509.Certificate `json:"-"`
}

// The algorithms Access accepts for the uploaded CA ("Certificate content").
var accessSignatureAlgorithms = map[x509.SignatureAlgorithm]bool{
	x509.SHA1WithRSA: true, x509.SHA256WithRSA: true, x509.SHA384WithRSA: true, x509.SHA512WithRSA: true,
	x509.ECDSAWithSHA1: true, x509.ECDSAWithSHA256: true, x509.ECDSAWithSHA384: true, x509.ECDSAWithSHA512: true,
}

// Access sends its expiration alerts 30 and 14 days before the CA expires.
const (
	firstAlert  = 30 * 24 * time.Hour
	secondAlert = 14 * 24 * time.Hour
)

// ValidationOptions tune ValidateUpload.
type ValidationOptions struct {
	Hostnames []string
	Now       time.Time
	Strict    bool // lint findings fail instead of warn
	Lint      bool
}

// ValidateUpload checks PEM data against Access's upload rules. It returns
// an error only when the data cannot be read as certificates at all; every
// rule that fails is in the report.
func ValidateUpload(file string, data []byte, opts ValidationOptions) (*UploadReport, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	certs, content, err := readUploadContent(file, data)
	if err != nil {
		return nil, err
	}
	r := &UploadReport{Bundle: content, Hostnames: []Check{}}
	for i, c := range certs {
		cc := CertChecks{Index: i + 1, Subject: SubjectDN(c), Issuer: IssuerDN(c), Serial: SerialHex(c.SerialNumber), NotAfter: c.NotAfter.UTC(), cert: c}
		cc.Checks = append(cc.Checks, checkCAFlag(c), checkSignatureAlgorithm(c), checkValidity(c, opts.Now), checkKeyUsage(c), checkCriticalExtensions(c))
		if eku, ok := checkCAExtKeyUsage(c); ok {
			cc.Checks = append(cc.Checks, eku)
		}
		if opts.Lint {
			cc.Checks = append(cc.Checks, lintCertificate(c, opts.Strict)...)
		}
		r.Certificates = append(r.Certificates, cc)
	}
	if len(certs) > 0 { // a paste of only a key or CSR has failed "content" already
		r.Bundle = append(r.Bundle, checkChain(certs, r)...)
	}
	for _, h := range opts.Hostnames {
		r.Hostnames = append(r.Hostnames, CheckHostname(h))
	}
	r.tally()
	return r, nil
}

func (r *UploadReport) tally() {
	count := func(cs []Check) {
		for _, c := range cs {
			switch c.Status {
			case Fail:
				r.Problems++
			case Warn:
				r.Warnings++
			}
		}
	}
	count(r.Bundle)
	for _, c := range r.Certificates {
		count(c.Checks)
	}
	count(r.Hostnames)
	r.Accepted = r.Problems == 0
}

// readUploadContent finds the certificates and judges the paste itself:
// only CERTIFICATE blocks belong in it. A key is named, never printed.
func readUploadContent(file string, data []byte) ([]*x509.Certificate, []Check, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, nil, errorf(file, "is empty").withNext("give the CA certificate, e.g. '%s'", Cmd(ActValidateCA, "ca.pem"))
	}
	if data[0] == 0x30 { // DER, parsed untrimmed: its last byte may be 0x20 or 0x0a
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, nil, errorf(file, "is neither PEM nor a DER certificate").withHint("give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)")
		}
		return []*x509.Certificate{c}, []Check{{Rule: "content", Status: Fail,
			Message: "the certificate is DER (binary); Access's Certificate content field takes PEM",
			Hint:    "convert it: openssl x509 -inform DER -in " + file + " -out ca.pem"}}, nil
	}
	if !bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		return nil, nil, errorf(file, "has no PEM block").withHint("give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)")
	}
	var certs []*x509.Certificate
	var found, criticalRefused []string
	rest := trimmed
	n := 0
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		rest = after
		switch {
		case block.Type == "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil && criticalMarked(err.Error()) {
				// A well-formed certificate with an extension RFC 5280
				// says must not be critical (SKI, AKI, AIA): Go will not
				// read it, OpenSSL calls it an unhandled critical
				// extension. A failed rule, not unreadable input.
				criticalRefused = append(criticalRefused, fmt.Sprintf("certificate %d: unhandled critical extension (%s)", n, strings.TrimPrefix(err.Error(), "x509: ")))
				continue
			}
			if err != nil {
				return nil, nil, errorf(file, "PEM block %d is a CERTIFICATE that cannot be parsed: %v", n, err)
			}
			certs = append(certs, c)
		case strings.Contains(block.Type, "PRIVATE KEY"):
			found = append(found, fmt.Sprintf("block %d is a private key (%s)", n, block.Type))
		case strings.Contains(block.Type, "CERTIFICATE REQUEST"):
			found = append(found, fmt.Sprintf("block %d is a certificate request (%s)", n, block.Type))
		default:
			found = append(found, fmt.Sprintf("block %d is a %s", n, block.Type))
		}
	}
	if bytes.Contains(rest, []byte("-----BEGIN ")) {
		return nil, nil, errorf(file, "PEM block %d is truncated or damaged", n+1).withHint("copy the whole block, from -----BEGIN to -----END")
	}
	if len(criticalRefused) > 0 {
		return nil, []Check{{Rule: "critical-extensions", Status: Fail, Message: strings.Join(criticalRefused, "; ") + ": OpenSSL and Go refuse it, and every client certificate under it",
			Hint: "re-create the CA with that extension not critical (RFC 5280 requires it non-critical)"}}, nil
	}
	if len(certs) == 0 {
		if len(found) > 0 {
			return nil, []Check{{Rule: "content", Status: Fail, Message: "no certificate: " + strings.Join(found, "; "),
				Hint: "paste the CA certificate (ca.pem); never paste a private key anywhere"}}, nil
		}
		return nil, nil, errorf(file, "has no certificate")
	}
	var checks []Check
	if len(found) > 0 {
		hint := "remove it: Access wants only CERTIFICATE blocks"
		for _, f := range found {
			if strings.Contains(f, "private key") {
				hint = "remove the key from the bundle now, and treat it as exposed if it was pasted anywhere"
			}
		}
		checks = append(checks, Check{Rule: "content", Status: Fail, Message: strings.Join(found, "; "), Hint: hint})
	} else {
		checks = append(checks, Check{Rule: "content", Status: Pass, Message: fmt.Sprintf("PEM with %d CERTIFICATE block%s", len(certs), plural(len(certs), "", "s"))})
	}
	return certs, checks, nil
}

func checkCAFlag(c *x509.Certificate) Check {
	switch {
	case !c.BasicConstraintsValid:
		return Check{Rule: "ca-flag", Status: Fail, Message: "no Basic Constraints extension; Access requires CA:TRUE",
			Hint: "re-create the CA (%s); a certificate without Basic Constraints is not a CA", HintArgs: []any{ActMakeCA}}
	case !c.IsCA:
		return Check{Rule: "ca-flag", Status: Fail, Message: "Basic Constraints CA:FALSE: this is a " + leafKind(c) + " certificate, not a CA",
			Hint: "upload the CA certificate (ca.pem), not a client or server certificate"}
	}
	return Check{Rule: "ca-flag", Status: Pass, Message: "Basic Constraints CA:TRUE"}
}

func leafKind(c *x509.Certificate) string {
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageClientAuth:
			return "client"
		case x509.ExtKeyUsageServerAuth:
			return "server"
		}
	}
	return "leaf"
}

func checkSignatureAlgorithm(c *x509.Certificate) Check {
	alg := c.SignatureAlgorithm
	switch {
	case alg == x509.SHA1WithRSA || alg == x509.ECDSAWithSHA1:
		return Check{Rule: "signature", Status: Warn, Message: alg.String() + " is accepted by Access, but SHA-1 is broken for signatures",
			Hint: "re-create the CA with a SHA-256 or stronger signature"}
	case accessSignatureAlgorithms[alg]:
		return Check{Rule: "signature", Status: Pass, Message: alg.String() + " is accepted by Access"}
	}
	name := signatureAlgorithmName(c)
	return Check{Rule: "signature", Status: Fail, Message: "signed with " + name + ", which Access does not accept (it takes RSA PKCS#1 v1.5 and ECDSA with SHA-1/256/384/512)",
		Hint: "re-create the CA with an RSA or ECDSA key: %s", HintArgs: []any{Cmd(ActMakeCA, OptKeyType.With("ecdsa-384"))}}
}

// opensslHandled are the critical extensions OpenSSL's verifier
// processes (X509_supported_extension); any other critical extension makes
// it fail the certificate with "unhandled critical extension", and so
// every chain through it.
var opensslHandled = map[string]string{
	"2.16.840.1.113730.1.1": "netscape cert type", "2.5.29.15": "key usage", "2.5.29.17": "subject alternative name",
	"2.5.29.19": "basic constraints", "2.5.29.32": "certificate policies", "2.5.29.31": "CRL distribution points",
	"2.5.29.37": "extended key usage", "1.3.6.1.5.5.7.1.7": "IP address blocks", "1.3.6.1.5.5.7.1.8": "AS identifiers",
	"1.3.6.1.5.5.7.48.1.5": "OCSP no check", "2.5.29.36": "policy constraints", "1.3.6.1.5.5.7.1.14": "proxy certificate info",
	"2.5.29.30": "name constraints", "2.5.29.33": "policy mappings", "2.5.29.54": "inhibit any policy",
}

// checkCriticalExtensions: a certificate with a critical extension the
// verifier does not understand must be refused (RFC 5280 §4.2). What
// OpenSSL does not handle fails, in OpenSSL's words; what only Go's
// verifier (and so mtlsctl serve) does not handle, such as name
// constraints on directory names, warns.
func checkCriticalExtensions(c *x509.Certificate) Check {
	var openssl, goOnly []string
	for _, e := range c.Extensions {
		if !e.Critical {
			continue
		}
		id := e.Id.String()
		if _, ok := opensslHandled[id]; !ok {
			openssl = append(openssl, id)
		}
	}
	for _, oid := range c.UnhandledCriticalExtensions {
		if name, ok := opensslHandled[oid.String()]; ok {
			goOnly = append(goOnly, oid.String()+" ("+name+")")
		}
	}
	switch {
	case len(openssl) > 0:
		return Check{Rule: "critical-extensions", Status: Fail,
			Message: "unhandled critical extension " + strings.Join(openssl, ", ") + ": OpenSSL refuses this certificate, and every client certificate under it",
			Hint:    "re-create the CA without that extension, or with it not critical"}
	case len(goOnly) > 0:
		return Check{Rule: "critical-extensions", Status: Warn,
			Message: "critical " + strings.Join(goOnly, ", ") + " in a form Go's verifier does not handle: mtlsctl serve and other Go servers refuse every client under it (OpenSSL accepts it)",
			Hint:    "if Go-based servers must accept its clients, re-create the CA with that extension in a form they handle (for name constraints: DNS, email, IP or URI)"}
	}
	return Check{Rule: "critical-extensions", Status: Pass, Message: "no critical extension that verifiers do not understand"}
}

func checkValidity(c *x509.Certificate, now time.Time) Check {
	left := c.NotAfter.Sub(now)
	days := int(left.Hours() / 24)
	until := c.NotAfter.UTC().Format("2006-01-02")
	switch {
	case now.Before(c.NotBefore):
		return Check{Rule: "validity", Status: Fail, Message: "not valid yet: valid from " + c.NotBefore.UTC().Format(time.RFC3339),
			Hint: "check the clock of the machine that made it"}
	case left <= 0:
		return Check{Rule: "validity", Status: Fail, Message: "expired on " + until, Hint: "create a new CA and re-issue the client certificates"}
	case left <= secondAlert:
		return Check{Rule: "validity", Status: Warn, Message: fmt.Sprintf("URGENT: expires in %d days (%s), inside Access's 14-day alert", days, until),
			Hint: "upload a renewed CA now"}
	case left <= firstAlert:
		return Check{Rule: "validity", Status: Warn, Message: fmt.Sprintf("expires in %d days (%s), inside Access's 30-day alert", days, until),
			Hint: "plan the renewal"}
	}
	return Check{Rule: "validity", Status: Pass, Message: fmt.Sprintf("valid until %s (%d days)", until, days)}
}

func checkKeyUsage(c *x509.Certificate) Check {
	switch {
	case c.KeyUsage == 0:
		return Check{Rule: "key-usage", Status: Pass, Message: "no Key Usage extension (any usage allowed)"}
	case c.KeyUsage&x509.KeyUsageCertSign == 0:
		return Check{Rule: "key-usage", Status: Fail, Message: "Key Usage lacks keyCertSign, so it cannot sign client certificates",
			Hint: "re-create the CA with \"cert sign\" in its usages"}
	case c.KeyUsage&x509.KeyUsageCRLSign == 0:
		return Check{Rule: "key-usage", Status: Warn, Message: "Key Usage lacks cRLSign: CRLs it signs will be rejected",
			Hint: "re-create the CA with \"crl sign\" if you will revoke certificates"}
	}
	return Check{Rule: "key-usage", Status: Pass, Message: "keyCertSign and cRLSign"}
}

// checkChain checks that the bundle runs leafmost-first, each certificate
// signed by the next, up to a self-signed root, with no duplicates and
// path lengths respected. When the certificates form a chain in another
// order, the report carries that order.
func checkChain(certs []*x509.Certificate, r *UploadReport) []Check {
	var checks []Check
	for i := range certs {
		for j := 0; j < i; j++ {
			if bytes.Equal(certs[i].Raw, certs[j].Raw) {
				return append(checks, Check{Rule: "chain", Status: Fail, Message: fmt.Sprintf("certificate %d is a duplicate of certificate %d", i+1, j+1),
					Hint: "remove the duplicate"})
			}
		}
	}
	if fail, ok := chainBreak(certs); ok {
		return append(checks, Check{Rule: "chain", Status: Pass, Message: chainDescription(certs)})
	} else if order := findOrder(certs); order != nil {
		r.FixedOrder = order
		var names []string
		for _, c := range order {
			names = append(names, cn(c))
		}
		return append(checks, Check{Rule: "chain", Status: Fail, Message: "the certificates are out of order: " + fail,
			Hint: "Access wants the intermediate first, then its issuer, up to the root: %s (%s %s writes it)", HintArgs: []any{strings.Join(names, " → "), OptFixOrder, OptOut.With("FILE")}})
	} else {
		h := chainHint(certs)
		return append(checks, Check{Rule: "chain", Status: Fail, Message: fail, Hint: h.Format, HintArgs: h.Args})
	}
}

// chainBreak reports the first thing wrong with certs in the given order,
// or ok.
func chainBreak(certs []*x509.Certificate) (string, bool) {
	for i := 0; i+1 < len(certs); i++ {
		if err := signedBy(certs[i], certs[i+1]); err != nil {
			return fmt.Sprintf("certificate %d (%s) is not signed by certificate %d (%s)", i+1, cn(certs[i]), i+2, cn(certs[i+1])), false
		}
	}
	top := certs[len(certs)-1]
	if !isSelfSigned(top) {
		if len(certs) == 1 {
			return fmt.Sprintf("%s is not self-signed and its issuer (%s) is not in the bundle", cn(top), IssuerDN(top)), false
		}
		return fmt.Sprintf("the last certificate (%s) is not a self-signed root: its issuer %s is missing", cn(top), IssuerDN(top)), false
	}
	// pathLenConstraint of certificate j limits the CAs below it: j of them
	// in the bundle (clients' leaves do not count).
	for j, c := range certs {
		if c.BasicConstraintsValid && c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) && j > c.MaxPathLen {
			return fmt.Sprintf("certificate %d (%s) allows %d intermediate CA(s) below it, but the bundle has %d", j+1, cn(c), c.MaxPathLen, j), false
		}
	}
	return "", true
}

func chainDescription(certs []*x509.Certificate) string {
	if len(certs) == 1 {
		return "self-signed root"
	}
	return fmt.Sprintf("%d certificates, each signed by the next, ending in the self-signed root %s", len(certs), cn(certs[len(certs)-1]))
}

func chainHint(certs []*x509.Certificate) Text {
	top := certs[len(certs)-1]
	if !isSelfSigned(top) {
		return Textf("Access wants the whole chain: append the certificate of %s (for %s, upload ca-chain.pem)", IssuerDN(top), ActMakeIntermediate)
	}
	return Words("check that every certificate in the bundle belongs to the same chain")
}

// findOrder tries to arrange certs as a valid chain (at most a handful of
// certificates, so a simple walk from each candidate leaf is enough).
func findOrder(certs []*x509.Certificate) []*x509.Certificate {
	if len(certs) < 2 || len(certs) > 8 {
		return nil
	}
	for start := range certs {
		order := []*x509.Certificate{certs[start]}
		used := map[int]bool{start: true}
		for len(order) < len(certs) {
			next := -1
			for k, c := range certs {
				if !used[k] && signedBy(order[len(order)-1], c) == nil {
					next = k
					break
				}
			}
			if next < 0 {
				break
			}
			used[next] = true
			order = append(order, certs[next])
		}
		if len(order) == len(certs) {
			if _, ok := chainBreak(order); ok {
				return order
			}
		}
	}
	return nil
}

// isSelfSigned: issuer and subject the same and the signature its own. A
// signature Go cannot check (DSA, MD2) counts by name: the signature rule
// fails such a certificate already, and telling its user to append its
// own issuer would send them looking for a certificate that is this one.
func isSelfSigned(c *x509.Certificate) bool {
	if !SameDN(c.RawIssuer, c.RawSubject) {
		return false
	}
	err := signedBy(c, c)
	return err == nil || errors.Is(err, x509.ErrUnsupportedAlgorithm) || c.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm || c.PublicKeyAlgorithm == x509.DSA
}

// signedBy checks child's signature with parent's key. Go refuses to verify
// SHA-1 certificate signatures at all, but Access still accepts SHA-1 CAs,
// so those are checked here by hand (and warned about elsewhere).
func signedBy(child, parent *x509.Certificate) error {
	if child.SignatureAlgorithm == x509.UnknownSignatureAlgorithm {
		// Go cannot check it (e.g. RSA-PSS with OpenSSL's default salt);
		// the signature rule fails it already, so link by name only.
		if bytes.Equal(child.RawIssuer, parent.RawSubject) {
			return nil
		}
		return errors.New("unsupported signature algorithm")
	}
	if child != parent && (!parent.BasicConstraintsValid || !parent.IsCA) && parent.Version == 3 {
		return errors.New("the parent is not a CA")
	}
	switch child.SignatureAlgorithm {
	case x509.SHA1WithRSA, x509.ECDSAWithSHA1:
		digest := sha1.Sum(child.RawTBSCertificate)
		switch pub := parent.PublicKey.(type) {
		case *rsa.PublicKey:
			return rsa.VerifyPKCS1v15(pub, crypto.SHA1, digest[:], child.Signature)
		case *ecdsa.PublicKey:
			if ecdsa.VerifyASN1(pub, digest[:], child.Signature) {
				return nil
			}
		}
		return errors.New("bad SHA-1 signature")
	}
	if child == parent {
		return child.CheckSignature(child.SignatureAlgorithm, child.RawTBSCertificate, child.Signature)
	}
	return child.CheckSignatureFrom(parent)
}

// cn names a certificate in messages: its most specific attribute as
// FormatDN prints it when that is its CN, else its whole name.
func cn(c *x509.Certificate) string {
	dn := SubjectDN(c)
	if c.Subject.CommonName != "" {
		if first, _, _ := strings.Cut(dn, ","); strings.HasPrefix(first, "CN=") {
			return first
		}
	}
	return dn
}

// OrderedPEM encodes certs as a PEM bundle.
func OrderedPEM(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// Chain is the validated certificates in bundle order.
func (r *UploadReport) Chain() []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range r.Certificates {
		out = append(out, c.cert)
	}
	return out
}

// HostnameOf is the ASCII hostname a passing hostname check settled on.
func HostnameOf(c Check) string {
	name, _, _ := strings.Cut(c.Message, " ")
	return name
}

// signatureAlgorithmName names c's signature algorithm even when Go does
// not support it, from the OID in the certificate itself.
func signatureAlgorithmName(c *x509.Certificate) string {
	if c.SignatureAlgorithm != x509.UnknownSignatureAlgorithm {
		return c.SignatureAlgorithm.String()
	}
	oid, params, ok := certSignatureAlgorithm(c.Raw)
	if !ok {
		return "an unknown algorithm"
	}
	return SignatureAlgorithmName(oid, params) + " (" + oid.String() + ")"
}

// checkCAExtKeyUsage: a CA with an Extended Key Usage extension restricts
// every certificate under it (OpenSSL and Go chain EKUs), so one without
// clientAuth can never vouch for a client. Only reported when present.
func checkCAExtKeyUsage(c *x509.Certificate) (Check, bool) {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return Check{}, false
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny {
			return Check{Rule: "ext-key-usage", Status: Pass, Message: "Extended Key Usage allows clientAuth"}, true
		}
	}
	if !c.IsCA {
		return Check{}, false // ca-flag already fails it, as the leaf it is
	}
	return Check{Rule: "ext-key-usage", Status: Fail, Message: "Extended Key Usage without clientAuth: no client certificate under this CA will verify",
		Hint: "re-create the CA without an Extended Key Usage extension, or with clientAuth in it"}, true
}

// ChainToRoot is the chain to bundle with a certificate issued by issuer:
// the issuer, the certificates above it, and root when the chain stops
// short of a self-signed certificate that root signed.
func ChainToRoot(issuer *x509.Certificate, above []*x509.Certificate, root *x509.Certificate) []*x509.Certificate {
	chain := append([]*x509.Certificate{issuer}, above...)
	if top := chain[len(chain)-1]; !isSelfSigned(top) && root != nil && signedBy(top, root) == nil {
		chain = append(chain, root)
	}
	return chain
}

// IssuerAmong names which of the CAs (tried in the order of names) signed
// cert.
func IssuerAmong(cert *x509.Certificate, names []string, cas map[string]*x509.Certificate) (string, bool) {
	for _, name := range names {
		if ca, ok := cas[name]; ok && signedBy(cert, ca) == nil {
			return name, true
		}
	}
	return "", false
}
