package accesssim

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// An uploaded CA given no CRL is named as not checked for revocation.
func TestUncoveredWithoutCRL(t *testing.T) {
	d, err := pkidir.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	req, err := cfsslconf.LoadRequest("ca-csr.json", []byte(cfsslconf.DefaultCARequestJSON), cfsslconf.CARequest)
	if err != nil {
		t.Fatal(err)
	}
	if req.CR.KeyRequest, err = cfsslconf.ParseKeyType("ecdsa-256"); err != nil {
		t.Fatal(err)
	}
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(cfsslconf.DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	root, err := d.CreateRoot(context.Background(), pkidir.RootRequest{Request: req, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Dir: d, CAPath: "ca.pem", CAs: []*x509.Certificate{root.CA.Cert},
		Warn: func(w string) { t.Log(w) }, Info: func(string) {}})
	if err != nil {
		t.Fatal(err)
	}
	if u := s.Uncovered(); len(u) != 1 || !u[0].Equal(root.CA.Cert) {
		t.Errorf("uncovered %d CAs, want the root alone", len(u))
	}
	if len(s.CRLs) != 0 {
		t.Errorf("%d CRLs read, none given", len(s.CRLs))
	}
}
