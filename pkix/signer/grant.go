package signer

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"path"
	"slices"
	"strings"

	mpkix "github.com/mtlsctl/mtlsctl/pkix"
)

// OIDGrant identifies the extension in a runner's or an admin's
// certificate (issued by the signer CA, never by the issuing CA) that
// says what its holder may do. It is under 2.25, the arc of OIDs made
// from UUIDs (RFC 4122 §9), which needs no registration; the number is
// random but 31 bits, not a full 128-bit UUID, because Go's certificate
// parser (cryptobyte) refuses an OID arc of 2^31 or more, and would refuse
// the whole certificate. The extension is non-critical, so TLS stacks that do
// not know it still accept the certificate; the signer refuses a client
// certificate without it.
var OIDGrant = asn1.ObjectIdentifier{2, 25, 1123799895}

// Roles a grant gives.
const (
	RoleRunner = "runner" // may ask for certificates (authsign), read info
	RoleAdmin  = "admin"  // may list, revoke and publish the CRL
)

// Grant is what a runner or admin certificate allows: a role, and for a
// runner the profiles it may name and the CN patterns (path.Match globs)
// of the certificates it may ask for. It is signed into the certificate
// by the signer CA, so no runner can widen its own.
type Grant struct {
	Role     string
	Profiles []string
	CNs      []string
}

// grantASN1 is the extension's value:
//
//	Grant ::= SEQUENCE {
//	    role      UTF8String,
//	    profiles  SEQUENCE OF DirectoryString,
//	    cns       SEQUENCE OF DirectoryString }
//
// (each a PrintableString, or a UTF8String where PrintableString cannot
// hold it, as Go's encoder chooses).
type grantASN1 struct {
	Role     string `asn1:"utf8"`
	Profiles []string
	CNs      []string
}

// Extension is g as a certificate extension.
func (g Grant) Extension() (pkix.Extension, error) {
	if err := g.Check(); err != nil {
		return pkix.Extension{}, err
	}
	der, err := asn1.Marshal(grantASN1{Role: g.Role, Profiles: g.Profiles, CNs: g.CNs})
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDGrant, Value: der}, nil
}

// Check refuses a grant that is not one of the two roles, a runner grant
// with no profile or no CN pattern, and a pattern path.Match rejects.
func (g Grant) Check() error {
	switch g.Role {
	case RoleAdmin:
		return nil
	case RoleRunner:
	default:
		return fmt.Errorf("role %q is neither %s nor %s", g.Role, RoleRunner, RoleAdmin)
	}
	if len(g.Profiles) == 0 {
		return fmt.Errorf("a runner grant names the profiles it may use (e.g. client)")
	}
	if len(g.CNs) == 0 {
		return fmt.Errorf("a runner grant names the CNs it may ask for (patterns such as 'ci-*')")
	}
	for _, p := range g.CNs {
		if _, err := path.Match(p, ""); err != nil || p == "" {
			return fmt.Errorf("CN pattern %q is not a valid pattern", p)
		}
	}
	return nil
}

// GrantOf reads the grant of a client certificate; a certificate without
// one grants nothing.
func GrantOf(cert *x509.Certificate) (*Grant, error) {
	for _, e := range cert.Extensions {
		if !e.Id.Equal(OIDGrant) {
			continue
		}
		var g grantASN1
		rest, err := asn1.Unmarshal(e.Value, &g)
		if err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("the certificate's grant extension cannot be read")
		}
		out := &Grant{Role: g.Role, Profiles: g.Profiles, CNs: g.CNs}
		if err := out.Check(); err != nil {
			return nil, fmt.Errorf("the certificate's grant: %v", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s", mpkix.Textf("the certificate carries no mtlsctl grant (it was not issued by '%s')", mpkix.ActMakeRunner))
}

// Allows says whether a runner with this grant may ask for a certificate
// with this profile and CN.
func (g *Grant) Allows(profile, cn string) error {
	if g.Role != RoleRunner {
		return fmt.Errorf("an %s certificate does not ask for certificates", g.Role)
	}
	if !slices.Contains(g.Profiles, profile) {
		return fmt.Errorf("profile %q is not granted to this runner (granted: %s)", profile, strings.Join(g.Profiles, ", "))
	}
	for _, p := range g.CNs {
		if ok, _ := path.Match(p, cn); ok {
			return nil
		}
	}
	return fmt.Errorf("CN %q matches none of this runner's patterns (%s)", cn, strings.Join(g.CNs, ", "))
}
