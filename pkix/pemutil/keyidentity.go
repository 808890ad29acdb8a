package pemutil

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
)

// KeyIdentity names a public key by what its private key is, as hex
// SHA-256, where the SubjectPublicKeyInfo hash (PublicKeySHA256) names one
// encoding of it. Whoever holds the factors of an RSA modulus can sign
// for that modulus with any public exponent (65537, 65539, ...), so RSA
// keys are the same key when their moduli are; an EC key is its curve and
// point, whatever the point's encoding (compressed or not) or the form of
// its parameters; an Ed25519 key is its 32 bytes. "" for another kind of
// key, which is then compared by its SubjectPublicKeyInfo only.
func KeyIdentity(pub crypto.PublicKey) string {
	var id []byte
	switch k := pub.(type) {
	case *rsa.PublicKey:
		id = append([]byte("rsa "), k.N.Bytes()...)
	case *ecdsa.PublicKey:
		b, err := k.Bytes() // uncompressed: 04 || X || Y
		if err != nil {
			return ""
		}
		id = append([]byte("ec "+k.Curve.Params().Name+" "), b...)
	case ed25519.PublicKey:
		id = append([]byte("ed25519 "), k...)
	default:
		return ""
	}
	sum := sha256.Sum256(id)
	return hex.EncodeToString(sum[:])
}

// CertKeyIdentity is the KeyIdentity of a certificate's key.
func CertKeyIdentity(c *x509.Certificate) string { return KeyIdentity(c.PublicKey) }
