package chain

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// IsSelfSigned: issuer and subject the same and the signature its own. A
// signature Go cannot check (DSA, MD2) counts by name: the signature rule
// fails such a certificate already, and telling its user to append its
// own issuer would send them looking for a certificate that is this one.
func IsSelfSigned(c *x509.Certificate) bool {
	if !x509text.SameDN(c.RawIssuer, c.RawSubject) {
		return false
	}
	err := SignedBy(c, c)
	return err == nil || errors.Is(err, x509.ErrUnsupportedAlgorithm) || c.PublicKeyAlgorithm == x509.UnknownPublicKeyAlgorithm || c.PublicKeyAlgorithm == x509.DSA
}

// SignedBy checks child's signature with parent's key. Go refuses to verify
// SHA-1 certificate signatures at all, but Access still accepts SHA-1 CAs,
// so those are checked here by hand (and warned about elsewhere).
func SignedBy(child, parent *x509.Certificate) error {
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

// ChainToRoot is the chain to bundle with a certificate issued by issuer:
// the issuer, the certificates above it, and root when the chain stops
// short of a self-signed certificate that root signed.
func ChainToRoot(issuer *x509.Certificate, above []*x509.Certificate, root *x509.Certificate) []*x509.Certificate {
	chain := append([]*x509.Certificate{issuer}, above...)
	if top := chain[len(chain)-1]; !IsSelfSigned(top) && root != nil && SignedBy(top, root) == nil {
		chain = append(chain, root)
	}
	return chain
}

// IssuerAmong names which of the CAs (tried in the order of names) signed
// cert.
func IssuerAmong(cert *x509.Certificate, names []string, cas map[string]*x509.Certificate) (string, bool) {
	for _, name := range names {
		if ca, ok := cas[name]; ok && SignedBy(cert, ca) == nil {
			return name, true
		}
	}
	return "", false
}

// SameCA reports whether a and b are the same CA for revocation: the same
// subject and the same key (a re-issued CA certificate still signs the
// same CRL).
func SameCA(a, b *x509.Certificate) bool {
	return a != nil && b != nil && bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}
