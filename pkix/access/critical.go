package access

import (
	"crypto/x509"
	"strings"
)

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

// CheckCriticalExtensions: a certificate with a critical extension the
// verifier does not understand must be refused (RFC 5280 §4.2). What
// OpenSSL does not handle fails, in OpenSSL's words; what only Go's
// verifier (and so mtlsctl serve) does not handle, such as name
// constraints on directory names, warns.
func CheckCriticalExtensions(c *x509.Certificate) Check {
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

// CriticalMarked recognises crypto/x509's refusal of a certificate with an
// extension RFC 5280 requires non-critical (SKI, AKI, AIA) marked critical:
// it has no error type, only this wording.
func CriticalMarked(parseErr string) bool {
	return strings.Contains(parseErr, "incorrectly marked critical")
}
