package ca

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// Issued is a freshly made certificate with its key and CSR, all PEM.
type Issued struct {
	Cert    *x509.Certificate
	CertPEM []byte
	KeyPEM  []byte
	CSRPEM  []byte
}

// InitCA creates a self-signed root CA from a validated request. A
// non-zero expiry overrides the request's "ca.expiry". The returned
// warnings are for things that work but will surprise the user later.
func InitCA(req *cfsslconf.Request, expiry time.Duration, cfg *cfsslconf.SigningConfig) (*Issued, []string, error) {
	cr := *req.CR
	if expiry > 0 {
		ca := csr.CAConfig{}
		if cr.CA != nil {
			ca = *cr.CA
		}
		ca.Expiry = expiry.String()
		cr.CA = &ca
	}
	certPEM, csrPEM, keyPEM, err := initca.New(&cr)
	if err != nil {
		return nil, nil, fmt.Errorf("creating the CA: %s", cfsslconf.CfsslMessage(err))
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("reading back the CA key: %s", cfsslconf.CfsslMessage(err))
	}
	pkcs8, err := pemutil.MarshalKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := pemutil.ParseCertificatePEM("new CA", certPEM)
	if err != nil {
		return nil, nil, err
	}
	if now := time.Now(); !cert.NotAfter.After(now.Add(time.Minute)) || cert.NotBefore.After(now.Add(time.Minute)) {
		return nil, nil, fmt.Errorf("the new CA would be valid from %s to %s, which does not include now; check ca.expiry and ca.backdate",
			cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339))
	}
	var warnings []string
	switch cert.SignatureAlgorithm {
	case x509.PureEd25519, x509.MLDSA44, x509.MLDSA65, x509.MLDSA87:
		warnings = append(warnings, fmt.Sprintf("the CA signs with %s, which Cloudflare Access does not accept; use an rsa or ecdsa key to upload it", cert.SignatureAlgorithm))
	}
	if cfg != nil {
		if name, d := cfg.MaxExpiry(); d > cert.NotAfter.Sub(cert.NotBefore) {
			warnings = append(warnings, fmt.Sprintf("%s: profile %q grants %s, longer than the CA's lifetime (%s); certificates will be cut off at the CA's expiry",
				cfg.File, name, cfsslconf.FormatDuration(d), cfsslconf.FormatDuration(cert.NotAfter.Sub(cert.NotBefore))))
		}
	}
	return &Issued{Cert: cert, CertPEM: certPEM, KeyPEM: pkcs8, CSRPEM: csrPEM}, warnings, nil
}
