package access

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
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
	SecondAlert = 14 * 24 * time.Hour
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
		cc := CertChecks{Index: i + 1, Subject: x509text.SubjectDN(c), Issuer: x509text.IssuerDN(c), Serial: x509text.SerialHex(c.SerialNumber), NotAfter: c.NotAfter.UTC(), cert: c}
		cc.Checks = append(cc.Checks, checkCAFlag(c), checkSignatureAlgorithm(c), checkValidity(c, opts.Now), checkKeyUsage(c), CheckCriticalExtensions(c))
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
		return nil, nil, pkix.Errorf(file, "is empty").WithNext("give the CA certificate, e.g. '%s'", pkix.Cmd(pkix.ActValidateCA, "ca.pem"))
	}
	if data[0] == 0x30 { // DER, parsed untrimmed: its last byte may be 0x20 or 0x0a
		c, err := x509.ParseCertificate(data)
		if err != nil {
			return nil, nil, pkix.Errorf(file, "is neither PEM nor a DER certificate").WithHint("give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)")
		}
		return []*x509.Certificate{c}, []Check{{Rule: "content", Status: Fail,
			Message: "the certificate is DER (binary); Access's Certificate content field takes PEM",
			Hint:    "convert it: openssl x509 -inform DER -in " + file + " -out ca.pem"}}, nil
	}
	if !bytes.Contains(trimmed, []byte("-----BEGIN ")) {
		return nil, nil, pkix.Errorf(file, "has no PEM block").WithHint("give the CA certificate in PEM (-----BEGIN CERTIFICATE-----)")
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
			if err != nil && CriticalMarked(err.Error()) {
				// A well-formed certificate with an extension RFC 5280
				// says must not be critical (SKI, AKI, AIA): Go will not
				// read it, OpenSSL calls it an unhandled critical
				// extension. A failed rule, not unreadable input.
				criticalRefused = append(criticalRefused, fmt.Sprintf("certificate %d: unhandled critical extension (%s)", n, strings.TrimPrefix(err.Error(), "x509: ")))
				continue
			}
			if err != nil {
				return nil, nil, pkix.Errorf(file, "PEM block %d is a CERTIFICATE that cannot be parsed: %v", n, err)
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
		return nil, nil, pkix.Errorf(file, "PEM block %d is truncated or damaged", n+1).WithHint("copy the whole block, from -----BEGIN to -----END")
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
		return nil, nil, pkix.Errorf(file, "has no certificate")
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
		checks = append(checks, Check{Rule: "content", Status: Pass, Message: fmt.Sprintf("PEM with %d CERTIFICATE block%s", len(certs), x509text.Plural(len(certs), "", "s"))})
	}
	return certs, checks, nil
}

func checkCAFlag(c *x509.Certificate) Check {
	switch {
	case !c.BasicConstraintsValid:
		return Check{Rule: "ca-flag", Status: Fail, Message: "no Basic Constraints extension; Access requires CA:TRUE",
			Hint: "re-create the CA (%s); a certificate without Basic Constraints is not a CA", HintArgs: []any{pkix.ActMakeCA}}
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
	name := x509text.CertSignatureAlgorithm(c)
	return Check{Rule: "signature", Status: Fail, Message: "signed with " + name + ", which Access does not accept (it takes RSA PKCS#1 v1.5 and ECDSA with SHA-1/256/384/512)",
		Hint: "re-create the CA with an RSA or ECDSA key: %s", HintArgs: []any{pkix.Cmd(pkix.ActMakeCA, pkix.OptKeyType.With("ecdsa-384"))}}
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
	case left <= SecondAlert:
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
			names = append(names, x509text.CommonNameOf(c))
		}
		return append(checks, Check{Rule: "chain", Status: Fail, Message: "the certificates are out of order: " + fail,
			Hint: "Access wants the intermediate first, then its issuer, up to the root: %s (%s %s writes it)", HintArgs: []any{strings.Join(names, " → "), pkix.OptFixOrder, pkix.OptOut.With("FILE")}})
	} else {
		h := chainHint(certs)
		return append(checks, Check{Rule: "chain", Status: Fail, Message: fail, Hint: h.Format, HintArgs: h.Args})
	}
}

// chainBreak reports the first thing wrong with certs in the given order,
// or ok.
func chainBreak(certs []*x509.Certificate) (string, bool) {
	for i := 0; i+1 < len(certs); i++ {
		if err := chain.SignedBy(certs[i], certs[i+1]); err != nil {
			return fmt.Sprintf("certificate %d (%s) is not signed by certificate %d (%s)", i+1, x509text.CommonNameOf(certs[i]), i+2, x509text.CommonNameOf(certs[i+1])), false
		}
	}
	top := certs[len(certs)-1]
	if !chain.IsSelfSigned(top) {
		if len(certs) == 1 {
			return fmt.Sprintf("%s is not self-signed and its issuer (%s) is not in the bundle", x509text.CommonNameOf(top), x509text.IssuerDN(top)), false
		}
		return fmt.Sprintf("the last certificate (%s) is not a self-signed root: its issuer %s is missing", x509text.CommonNameOf(top), x509text.IssuerDN(top)), false
	}
	// pathLenConstraint of certificate j limits the CAs below it: j of them
	// in the bundle (clients' leaves do not count).
	for j, c := range certs {
		if c.BasicConstraintsValid && c.IsCA && (c.MaxPathLen > 0 || c.MaxPathLenZero) && j > c.MaxPathLen {
			return fmt.Sprintf("certificate %d (%s) allows %d intermediate CA(s) below it, but the bundle has %d", j+1, x509text.CommonNameOf(c), c.MaxPathLen, j), false
		}
	}
	return "", true
}

func chainDescription(certs []*x509.Certificate) string {
	if len(certs) == 1 {
		return "self-signed root"
	}
	return fmt.Sprintf("%d certificates, each signed by the next, ending in the self-signed root %s", len(certs), x509text.CommonNameOf(certs[len(certs)-1]))
}

func chainHint(certs []*x509.Certificate) pkix.Text {
	top := certs[len(certs)-1]
	if !chain.IsSelfSigned(top) {
		return pkix.Textf("Access wants the whole chain: append the certificate of %s (for %s, upload ca-chain.pem)", x509text.IssuerDN(top), pkix.ActMakeIntermediate)
	}
	return pkix.Words("check that every certificate in the bundle belongs to the same chain")
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
				if !used[k] && chain.SignedBy(order[len(order)-1], c) == nil {
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
