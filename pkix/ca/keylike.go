package ca

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"strings"

	"github.com/cloudflare/cfssl/csr"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
)

// KeyRequestLike is a new key of the same type and size as cert's: a
// renewal's new key, and an intermediate's key when none was asked for
// (an ECDSA root gets an ECDSA intermediate, so its leaves are not signed
// with SHA512-RSA under an ECDSA root).
func KeyRequestLike(cert *x509.Certificate) *csr.KeyRequest {
	switch k := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		return &csr.KeyRequest{A: "rsa", S: k.N.BitLen()}
	case *ecdsa.PublicKey:
		return &csr.KeyRequest{A: "ecdsa", S: k.Curve.Params().BitSize}
	case ed25519.PublicKey:
		return &csr.KeyRequest{A: "ed25519"}
	}
	return csr.NewKeyRequest()
}

// FollowIssuerKey gives req its issuer's key type unless the key type was
// asked for (--key-type, or "key" in the request file).
func FollowIssuerKey(req *cfsslconf.Request, issuer *x509.Certificate) {
	if req.KeyGiven {
		return
	}
	req.CR.KeyRequest = KeyRequestLike(issuer)
	// The note that cfssl's default key would be used no longer holds.
	kept := req.Notes[:0]
	for _, n := range req.Notes {
		if !strings.Contains(n, `has no "key" section`) {
			kept = append(kept, n)
		}
	}
	req.Notes = kept
}
