package pkix

import (
	"os"

	"testing"

	cflog "github.com/cloudflare/cfssl/log"
)

// newTestCA makes a CA from the built-in configuration with the given key
// type, for tests that need an issuer.
func newTestCA(t testing.TB, keyType string) *Issuer {
	t.Helper()
	req, err := LoadRequest("ca-csr.json", []byte(DefaultCARequestJSON), CARequest)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := ParseKeyType(keyType)
	if err != nil {
		t.Fatal(err)
	}
	req.CR.KeyRequest = kr
	cfg, err := LoadSigningConfig("ca-config.json", []byte(DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	ca, _, err := InitCA(req, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ParseKeyPEM("ca-key.pem", ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer("ca.pem", ca.Cert, "ca-key.pem", key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func clientRequest(t testing.TB, cn, keyType string) *Request {
	t.Helper()
	r := DefaultClientRequest(cn)
	kr, err := ParseKeyType(keyType)
	if err != nil {
		t.Fatal(err)
	}
	r.CR.KeyRequest = kr
	return r
}

func TestMain(m *testing.M) {
	cflog.Level = cflog.LevelFatal
	os.Exit(m.Run())
}
