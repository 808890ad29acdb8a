package access

import (
	"crypto/x509"
	"fmt"
	"sort"
	"sync"

	zx509 "github.com/zmap/zcrypto/x509"
	"github.com/zmap/zlint/v3"
	"github.com/zmap/zlint/v3/lint"
)

var (
	rfc5280Once     sync.Once
	rfc5280Registry lint.Registry
	rfc5280Err      error
)

// lintCertificate runs zlint's RFC 5280 lints (zlint comes with cfssl) and
// returns their findings as warnings, or failures when strict.
func lintCertificate(c *x509.Certificate, strict bool) []Check {
	rfc5280Once.Do(func() {
		rfc5280Registry, rfc5280Err = lint.GlobalRegistry().Filter(lint.FilterOptions{IncludeSources: lint.SourceList{lint.RFC5280}})
	})
	status := Warn
	if strict {
		status = Fail
	}
	if rfc5280Err != nil {
		return []Check{{Rule: "lint", Status: Warn, Message: "RFC 5280 lints unavailable: " + rfc5280Err.Error()}}
	}
	zc, err := zx509.ParseCertificate(c.Raw)
	if err != nil {
		return []Check{{Rule: "lint", Status: status, Message: "zlint cannot parse the certificate: " + err.Error()}}
	}
	res := zlint.LintCertificateEx(zc, rfc5280Registry)
	var names []string
	for name, r := range res.Results {
		if r.Status == lint.Warn || r.Status == lint.Error || r.Status == lint.Fatal {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	var checks []Check
	for _, name := range names {
		r := res.Results[name]
		msg := name
		if r.Details != "" {
			msg += ": " + r.Details
		} else if l := rfc5280Registry.ByName(name); l != nil {
			msg += ": " + l.Description
		}
		checks = append(checks, Check{Rule: "lint", Status: status, Message: fmt.Sprintf("%s (%s)", msg, r.Status)})
	}
	if len(checks) == 0 {
		return []Check{{Rule: "lint", Status: Pass, Message: "no RFC 5280 lint findings"}}
	}
	return checks
}
