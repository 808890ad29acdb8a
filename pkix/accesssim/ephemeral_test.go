package accesssim

import (
	"bytes"
	"encoding/pem"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

func TestOwnedEphemeralServerCA(t *testing.T) {
	_, caPEM, err := EphemeralServer([]string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !IsEphemeralServerCA(caPEM) {
		t.Fatal("EphemeralServer's own CA is not recognised")
	}
	other := testpki.NewCA(t, "ecdsa-256") // a self-signed CA, but not serve's
	otherPEM := other.Cert.Raw
	block, _ := pem.Decode(caPEM)
	tampered := bytes.Clone(block.Bytes)
	tampered[len(tampered)-5] ^= 1 // breaks the signature
	for name, data := range map[string][]byte{
		"another CA":                pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: otherPEM}),
		"serve CA plus more":        append(bytes.Clone(caPEM), caPEM...),
		"text before":               append([]byte("note\n"), caPEM...),
		"not a certificate":         []byte(notACertificate),
		"empty":                     nil,
		"bad signature":             pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tampered}),
		"wrong block type":          pem.EncodeToMemory(&pem.Block{Type: "TRUSTED CERTIFICATE", Bytes: block.Bytes}),
		"serve CA with a key":       append(bytes.Clone(caPEM), []byte(notACertificate)...),
		"serve's O, other CN":       testpki.SelfSigned(t, "My Root", ephemeralCAOrganization, true),
		"serve's CN, other O":       testpki.SelfSigned(t, ephemeralCACommonName, "Example Corp", true),
		"serve's subject, not a CA": testpki.SelfSigned(t, ephemeralCACommonName, ephemeralCAOrganization, false),
	} {
		if IsEphemeralServerCA(data) {
			t.Errorf("%s: recognised as serve's CA", name)
		}
	}
	if !IsEphemeralServerCA(testpki.SelfSigned(t, ephemeralCACommonName, ephemeralCAOrganization, true)) {
		t.Error("the subject and shape serve uses are not recognised")
	}
}

// notACertificate is a key where a certificate belongs.
const notACertificate = "-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n"
