package crl

import (
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// CRLSignatureVerdict is what checking a CRL's signature concluded.
type CRLSignatureVerdict struct {
	// Signature is "verified with CA", "not checked" or "INVALID".
	Signature string
	// Failure is the part that failed (see SignatureFailure), when known.
	Failure string
	// Invalid: the signature does not verify, a problem to report.
	Invalid bool
	// Warning is what to tell, "" when nothing.
	Warning string
}

// JudgeSignature checks the CRL's signature with ca (labelled caLabel).
// A CA that was only a default, not named by the user, and is another CA
// altogether (its name or key identifier differ) leaves the CRL shown,
// not judged; any other failure makes the signature INVALID.
func (rl *RevocationList) JudgeSignature(ca *x509.Certificate, caLabel string, named bool) CRLSignatureVerdict {
	err := rl.VerifyBy(ca, caLabel)
	var failure *SignatureFailure
	switch {
	case err == nil:
		return CRLSignatureVerdict{Signature: "verified with " + caLabel}
	case errors.As(err, &failure) && !named && (failure.Part == "issuer name" || failure.Part == "key identifier"):
		return CRLSignatureVerdict{Signature: "not checked", Warning: fmt.Sprintf("signature not checked: %s is another CA (%s)", caLabel, x509text.SubjectDN(ca))}
	}
	v := CRLSignatureVerdict{Signature: "INVALID", Invalid: true, Warning: err.Error()}
	if failure != nil {
		v.Failure = failure.Part
	}
	return v
}
