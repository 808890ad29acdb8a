package pkix

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	cferr "github.com/cloudflare/cfssl/errors"
	"github.com/cloudflare/cfssl/helpers/derhelpers"
)

// MarshalKeyPEM writes a private key as PKCS#8 ("PRIVATE KEY"), which
// OpenSSL, curl, Go and cfssl all read. cfssl's own output uses three
// different legacy formats, one of them ("Ed25519 PRIVATE KEY") its own.
func MarshalKeyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseKeyPEM reads the first private key in PEM data (PKCS#8, PKCS#1 or
// SEC 1). Encrypted keys are refused with a hint rather than prompted for:
// mtlsctl never prompts.
func ParseKeyPEM(file string, data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errorf(file, "no PEM private key found").
				withHint("the file must hold a PEM block such as -----BEGIN PRIVATE KEY-----")
		}
		if !strings.Contains(block.Type, "PRIVATE KEY") {
			continue
		}
		if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
			return nil, errorf(file, "the private key is encrypted").
				withHint("decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain")
		}
		key, err := derhelpers.ParsePrivateKeyDER(block.Bytes)
		if err != nil {
			return nil, errorf(file, "cannot parse the private key: %s", CfsslMessage(err))
		}
		return key, nil
	}
}

// KeyMatches reports whether key is the private half of cert's public key.
func KeyMatches(cert *x509.Certificate, key crypto.Signer) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// KeyDescription is "RSA 4096", "ECDSA P-256", "Ed25519".
func KeyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// CfsslMessage extracts the human part of cfssl's JSON error blobs
// ({"code":5200,"message":"..."}) so they never reach the user as JSON.
func CfsslMessage(err error) string {
	var ce *cferr.Error
	if errors.As(err, &ce) {
		msg := ce.Message
		if msg == "" {
			msg = fmt.Sprintf("cfssl error %d", ce.ErrorCode)
		}
		return msg
	}
	return err.Error()
}

// ParseCertificatePEM reads the first certificate in data.
func ParseCertificatePEM(file string, data []byte) (*x509.Certificate, error) {
	certs, err := ParseCertificatesPEM(file, data)
	if err != nil {
		return nil, err
	}
	return certs[0], nil
}

// ParseCertificatesPEM reads every CERTIFICATE block in data, in order.
func ParseCertificatesPEM(file string, data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := bytes.TrimSpace(data)
	n := 0
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		n++
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, errorf(file, "certificate %d cannot be parsed: %v", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(data) > 0 && data[0] == 0x30 {
			return nil, errorf(file, "the file is DER, not PEM").
				withHint("convert it: openssl x509 -inform DER -in FILE -out FILE.pem")
		}
		return nil, errorf(file, "no PEM certificate found").
			withHint("the file must hold -----BEGIN CERTIFICATE-----")
	}
	return certs, nil
}
