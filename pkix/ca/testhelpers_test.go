package ca

import (
	"os"

	"testing"

	cflog "github.com/cloudflare/cfssl/log"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// newTestCA makes a CA from the built-in configuration with the given key
// type, for tests that need an issuer.
func newTestCA(t testing.TB, keyType string) *Issuer {
	t.Helper()
	req, err := cfsslconf.LoadRequest("ca-csr.json", []byte(cfsslconf.DefaultCARequestJSON), cfsslconf.CARequest)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfsslconf.ParseKeyType(keyType)
	if err != nil {
		t.Fatal(err)
	}
	req.CR.KeyRequest = kr
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(cfsslconf.DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	ca, _, err := InitCA(req, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	key, err := pemutil.ParseKeyPEM("ca-key.pem", ca.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	is, err := NewIssuer("ca.pem", ca.Cert, "ca-key.pem", key, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return is
}

func clientRequest(t testing.TB, cn, keyType string) *cfsslconf.Request {
	t.Helper()
	r := cfsslconf.DefaultClientRequest(cn)
	kr, err := cfsslconf.ParseKeyType(keyType)
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
