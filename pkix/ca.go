package pkix

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/helpers"
	"github.com/cloudflare/cfssl/initca"
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
func InitCA(req *Request, expiry time.Duration, cfg *SigningConfig) (*Issued, []string, error) {
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
		return nil, nil, fmt.Errorf("creating the CA: %s", CfsslMessage(err))
	}
	key, err := helpers.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("reading back the CA key: %s", CfsslMessage(err))
	}
	pkcs8, err := MarshalKeyPEM(key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := ParseCertificatePEM("new CA", certPEM)
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
				cfg.File, name, FormatDuration(d), FormatDuration(cert.NotAfter.Sub(cert.NotBefore))))
		}
	}
	return &Issued{Cert: cert, CertPEM: certPEM, KeyPEM: pkcs8, CSRPEM: csrPEM}, warnings, nil
}

// FormatDuration prints long durations in days, which is how people think
// about certificate lifetimes ("365d", not "8760h0m0s").
func FormatDuration(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	if d >= 24*time.Hour {
		return fmt.Sprintf("%.1fd", d.Hours()/24)
	}
	return d.String()
}

// MaxDurationDays bounds durations given in days, well below where
// time.Duration (about 292 years) would wrap around.
const MaxDurationDays = 36500

// ParseDuration accepts Go durations ("8760h") and whole days ("30d"),
// which is how people write certificate lifetimes: positive, and at most
// 100 years.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(d); err == nil && n > 0 {
			if n > MaxDurationDays {
				return 0, fmt.Errorf("%q is longer than 100 years", s)
			}
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", s)
	}
	if d > MaxDurationDays*24*time.Hour {
		return 0, fmt.Errorf("%q is longer than 100 years", s)
	}
	return d, nil
}
