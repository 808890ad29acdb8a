package crl

import (
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"strings"
)

// SignatureFailure says which part of checking a CRL against a CA
// certificate failed, so "INVALID" is never the whole answer.
type SignatureFailure struct {
	// Part is "issuer name", "key identifier", "algorithm", "signature"
	// or "key usage".
	Part string
	Msg  string
}

func (f *SignatureFailure) Error() string { return f.Msg }

// VerifyBy checks that ca issued the CRL: its name (compared as RFC 5280
// §7.1 says, so an encoding rollover still matches), its key identifier,
// the signature with its key, and that the certificate may sign CRLs. Go's
// CheckSignatureFrom folds the last into "invalid signature" and refuses a
// CRL signer that is not a CA, which RFC 5280 allows; this names each.
// label names the CA certificate's file in messages.
func (c *RevocationList) VerifyBy(ca *x509.Certificate, label string) error {
	if !x509text.SameDN(c.IssuerRaw, ca.RawSubject) {
		return &SignatureFailure{"issuer name", fmt.Sprintf("the CRL was issued by %s, not by the certificate in %s (%s)", c.IssuerName(), label, x509text.SubjectDN(ca))}
	}
	if len(c.AuthKeyID) > 0 && len(ca.SubjectKeyId) > 0 && !bytes.Equal(c.AuthKeyID, ca.SubjectKeyId) {
		return &SignatureFailure{"key identifier", fmt.Sprintf("the CRL was signed by the key %s (its Authority Key Identifier), not by the key of %s (%s)",
			strings.ToUpper(hex.EncodeToString(c.AuthKeyID)), label, strings.ToUpper(hex.EncodeToString(ca.SubjectKeyId)))}
	}
	a, known := x509text.LookupSigAlg(c.sigOID, c.sigParams)
	if c.sigOID.Equal(oidRSAPSS) {
		supported, err := x509text.VerifyPSS(ca.PublicKey, c.sigParams, c.tbs, c.sig)
		switch {
		case !supported:
			return &SignatureFailure{"algorithm", fmt.Sprintf("the CRL is signed with RSASSA-PSS parameters mtlsctl cannot check (its key %s, a mask hash other than the message hash, or an unknown hash)", x509text.KeyDescription(ca.PublicKey))}
		case err != nil:
			return &SignatureFailure{"signature", fmt.Sprintf("the %s signature does not verify with the key of %s: the CRL was altered, or another key signed it", c.SignatureAlgorithm, label)}
		}
		return checkCRLSign(ca, label)
	}
	if !known || a.Alg == x509.UnknownSignatureAlgorithm {
		return &SignatureFailure{"algorithm", fmt.Sprintf("the CRL is signed with %s, which mtlsctl cannot check (Go does not implement it)", c.SignatureAlgorithm)}
	}
	if err := ca.CheckSignature(a.Alg, c.tbs, c.sig); err != nil {
		var insecure x509.InsecureAlgorithmError
		if errors.Is(err, x509.ErrUnsupportedAlgorithm) || errors.As(err, &insecure) {
			return &SignatureFailure{"algorithm", fmt.Sprintf("the key of %s (%s) cannot be used by mtlsctl to check a %s signature (Go does not implement it)", label, x509text.KeyDescription(ca.PublicKey), a.Name)}
		}
		return &SignatureFailure{"signature", fmt.Sprintf("the %s signature does not verify with the key of %s: the CRL was altered, or another key signed it", a.Name, label)}
	}
	return checkCRLSign(ca, label)
}

// checkCRLSign: a signature that verifies still needs a signer whose Key
// Usage, when it has one, allows cRLSign (RFC 5280 §6.3.3).
func checkCRLSign(ca *x509.Certificate, label string) error {
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return &SignatureFailure{"key usage", fmt.Sprintf("the signature verifies, but the certificate in %s may not sign CRLs: its Key Usage lacks cRLSign (RFC 5280 §6.3.3)", label)}
	}
	return nil
}
