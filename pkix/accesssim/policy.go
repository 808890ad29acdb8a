package accesssim

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"slices"
	"time"
)

// TLSClientAuth is request.cf.tlsClientAuth as Access fills it in.
type TLSClientAuth struct {
	CertPresented string `json:"certPresented"` // "1" or "0"
	CertVerified  string `json:"certVerified"`  // SUCCESS, NONE, FAILED:<reason>
	CertRevoked   string `json:"certRevoked"`   // "1" or "0"
	access.AccessFields
}

// Verdict is what an Access mTLS policy decides for one request.
type Verdict struct {
	Allowed bool
	Reason  string // empty when allowed
	Leaf    *x509.Certificate
	Auth    TLSClientAuth
}

// AccessPolicy behaves like an Access application with an mTLS Service
// Auth policy: the Valid Certificate selector (the certificate chains to
// the uploaded CA) or, with CommonNames, the Common Name selector.
type AccessPolicy struct {
	Roots         *x509.CertPool
	Intermediates []*x509.Certificate // from the uploaded chain
	CommonNames   []string
	CRLs          []*crl.CRLStore // one per issuing CA that publishes one
	// Warnings are what is wrong with the CAs themselves, for the start.
	Warnings []string
}

// NewAccessPolicy builds a policy from an uploaded CA bundle: self-signed
// certificates are roots, the others intermediates.
func NewAccessPolicy(file string, caBundle []*x509.Certificate, commonNames []string, crls []*crl.CRLStore) (*AccessPolicy, error) {
	p := &AccessPolicy{Roots: x509.NewCertPool(), CommonNames: commonNames, CRLs: crls}
	roots := 0
	for _, c := range caBundle {
		if !c.IsCA {
			return nil, pkix.Errorf(file, "%s is not a CA certificate", x509text.CommonNameOf(c)).WithHint("give the CA (or chain) you upload to Access, not a client certificate")
		}
		if chain.IsSelfSigned(c) {
			p.Roots.AddCert(c)
			roots++
		} else {
			p.Intermediates = append(p.Intermediates, c)
		}
	}
	if roots == 0 {
		return nil, pkix.Errorf(file, "has no root (self-signed) certificate").WithHint("upload the whole chain, up to the root, as Access wants it")
	}
	// A CA with a critical extension no verifier understands lets nobody
	// in: say so at start, not in every 403.
	for _, c := range caBundle {
		if ch := access.CheckCriticalExtensions(c); ch.Status != access.Pass {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s: %s", file, x509text.CommonNameOf(c), ch.Message))
		}
	}
	return p, nil
}

// Evaluate decides a request from the certificates the client presented.
func (p *AccessPolicy) Evaluate(presented []*x509.Certificate, now time.Time) Verdict {
	if len(presented) == 0 {
		return Verdict{Reason: "no client certificate", Auth: TLSClientAuth{CertPresented: "0", CertVerified: "NONE", CertRevoked: "0"}}
	}
	leaf := presented[0]
	v := Verdict{Leaf: leaf, Auth: TLSClientAuth{CertPresented: "1", CertRevoked: "0", AccessFields: access.AccessView(leaf)}}
	inter := x509.NewCertPool()
	for _, c := range p.Intermediates {
		inter.AddCert(c)
	}
	for _, c := range presented[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		reason := verifyFailure(err, leaf, now)
		v.Auth.CertVerified = "FAILED:" + reason
		v.Reason = reason
		return v
	}
	// What OpenSSL's -purpose sslclient refuses and Go's Verify lets
	// through: a CA certificate, or a key that may not sign, presented as
	// a client certificate.
	if why := clientPurposeFailure(leaf); why != "" {
		v.Auth.CertVerified = "FAILED:unsupported certificate purpose"
		v.Reason = "unsupported certificate purpose: " + why
		return v
	}
	v.Auth.CertVerified = "SUCCESS"
	// Every link of the chain is checked against the CRL of the CA that
	// signed it: a revoked intermediate takes its whole subtree with it.
	if len(chains) > 0 {
		chain := chains[0]
		for k := 0; k+1 < len(chain); k++ {
			for _, crl := range p.CRLs {
				if crl.Revoked(chain[k+1], chain[k]) {
					v.Auth.CertRevoked = "1"
					v.Reason = "certificate revoked"
					if k > 0 {
						v.Reason = fmt.Sprintf("issuing CA %s revoked", x509text.CommonNameOf(chain[k]))
					}
					return v
				}
			}
		}
	}
	if len(p.CommonNames) > 0 && !slices.Contains(p.CommonNames, leaf.Subject.CommonName) {
		v.Reason = fmt.Sprintf("common name %q is not allowed by the policy", leaf.Subject.CommonName)
		return v
	}
	v.Allowed = true
	return v
}

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// clientPurposeFailure says why c is not a TLS client certificate, the
// way openssl verify -purpose sslclient judges the leaf, or "": a CA
// certificate (CA:TRUE) is not one; a key usage extension must allow
// digitalSignature (the client signs the handshake); an extended key usage
// must include clientAuth or anyExtendedKeyUsage.
func clientPurposeFailure(c *x509.Certificate) string {
	if c.BasicConstraintsValid && c.IsCA {
		return "a CA certificate (CA:TRUE) is not a client certificate"
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidKeyUsage) && c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return "its key usage does not include digitalSignature"
		}
	}
	if len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0 {
		if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return "its extended key usage does not include clientAuth"
		}
	}
	return ""
}

// IssuingCAs returns, out of the policy's own CAs and candidates (say the
// CA certificates found in a PKI directory), every CA certificate that
// chains to the policy's roots: the CAs whose CRLs count. The policy's
// own come first; duplicates are dropped.
func (p *AccessPolicy) IssuingCAs(own, candidates []*x509.Certificate, now time.Time) []*x509.Certificate {
	pool := x509.NewCertPool()
	for _, c := range p.Intermediates {
		pool.AddCert(c)
	}
	for _, c := range candidates {
		if c.IsCA {
			pool.AddCert(c)
		}
	}
	seen := map[string]bool{}
	var out []*x509.Certificate
	for _, c := range append(slices.Clip(own), candidates...) {
		if !c.IsCA || seen[string(c.Raw)] {
			continue
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: pool, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			continue
		}
		seen[string(c.Raw)] = true
		out = append(out, c)
	}
	return out
}

// HandshakeRefusal words why Go's TLS stack refused a client certificate
// it could not parse (parseErr is its message): Go will not read a
// certificate with an extension RFC 5280 requires non-critical (SKI, AKI,
// AIA) marked critical, which OpenSSL (and Access) call an unhandled
// critical extension.
func HandshakeRefusal(parseErr string) string {
	reason := "client certificate refused in the TLS handshake: " + parseErr
	if access.CriticalMarked(parseErr) {
		reason += " (OpenSSL: unhandled critical extension)"
	}
	return reason
}

// verifyFailure words a verification error the way OpenSSL's verify
// strings (and so Access's certVerified) do.
func verifyFailure(err error, leaf *x509.Certificate, now time.Time) string {
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, new(x509.UnhandledCriticalExtension)):
		// OpenSSL's words (X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION): the
		// client certificate or a CA above it has a critical extension
		// no verifier here understands.
		return "unhandled critical extension"
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if now.Before(inv.Cert.NotBefore) {
				return "certificate is not yet valid"
			}
			return "certificate has expired"
		case x509.IncompatibleUsage:
			return "unsupported certificate purpose"
		case x509.NotAuthorizedToSign:
			return "invalid CA certificate"
		case x509.TooManyIntermediates:
			return "path length constraint exceeded"
		}
		return inv.Error()
	case errors.As(err, &unknown):
		if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
			return "self signed certificate"
		}
		return "unable to get local issuer certificate"
	}
	return err.Error()
}
