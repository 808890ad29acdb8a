package pemutil

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"

	"software.sslmate.com/src/go-pkcs12"
)

// EncodeP12 bundles a key, its certificate and the chain above it into a
// PKCS#12 file, and reads it back before returning it: a .p12 that macOS
// Keychain or a browser cannot open is found here, not on a laptop. The
// default is AES-256-CBC with PBKDF2 (modern OpenSSL, macOS 15+, Windows);
// legacy is 3DES with SHA-1 MACs, what older Keychain and Windows need.
func EncodeP12(key crypto.Signer, cert *x509.Certificate, chain []*x509.Certificate, password string, legacy bool) ([]byte, error) {
	enc := pkcs12.Modern2023
	if legacy {
		enc = pkcs12.LegacyDES
	}
	data, err := enc.Encode(key, cert, chain, password)
	if err != nil {
		return nil, fmt.Errorf("encoding PKCS#12: %v", err)
	}
	k, c, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, fmt.Errorf("the PKCS#12 file does not read back: %v", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok || !bytes.Equal(c.Raw, cert.Raw) || !KeyMatches(c, signer) || len(cas) != len(chain) {
		return nil, fmt.Errorf("the PKCS#12 file reads back different from what was written")
	}
	return data, nil
}
