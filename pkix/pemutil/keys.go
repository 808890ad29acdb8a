package pemutil

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/cloudflare/cfssl/helpers/derhelpers"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
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
			return nil, pkix.Errorf(file, "no PEM private key found").
				WithHint("the file must hold a PEM block such as -----BEGIN PRIVATE KEY-----")
		}
		if !strings.Contains(block.Type, "PRIVATE KEY") {
			continue
		}
		if strings.Contains(block.Type, "ENCRYPTED") || block.Headers["Proc-Type"] != "" {
			return nil, pkix.Errorf(file, "the private key is encrypted").
				WithHint("decrypt it first, e.g. openssl pkey -in KEY -out KEY.plain")
		}
		key, err := derhelpers.ParsePrivateKeyDER(block.Bytes)
		if err != nil {
			return nil, pkix.Errorf(file, "cannot parse the private key: %s", cfsslconf.CfsslMessage(err))
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
			return nil, pkix.Errorf(file, "certificate %d cannot be parsed: %v", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(data) > 0 && data[0] == 0x30 {
			return nil, pkix.Errorf(file, "the file is DER, not PEM").
				WithHint("convert it: openssl x509 -inform DER -in FILE -out FILE.pem")
		}
		return nil, pkix.Errorf(file, "no PEM certificate found").
			WithHint("the file must hold -----BEGIN CERTIFICATE-----")
	}
	return certs, nil
}
