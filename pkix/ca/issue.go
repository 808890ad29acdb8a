package ca

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// Issuer signs certificates with a CA certificate and its key, under a
// validated signing configuration.
type Issuer struct {
	Cert   *x509.Certificate
	Key    crypto.Signer
	Config *cfsslconf.SigningConfig
	signer *local.Signer
	// reqSigners are the signers with the request policy, by profile
	// (SignRequest).
	reqSigners sync.Map
}

// NewIssuer checks that key belongs to cert and that cert may issue.
func NewIssuer(certFile string, cert *x509.Certificate, keyFile string, key crypto.Signer, cfg *cfsslconf.SigningConfig) (*Issuer, error) {
	if !pemutil.KeyMatches(cert, key) {
		return nil, pkix.Errorf(keyFile, "this key does not belong to the certificate in %s", certFile).
			WithHint("use the key that was written with that certificate (cfssljson names it CA-key.pem)")
	}
	if !cert.IsCA {
		return nil, pkix.Errorf(certFile, "the certificate is not a CA (Basic Constraints CA:FALSE or missing)").
			WithNext("point %s at the CA certificate, e.g. ca.pem", pkix.OptCA)
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, pkix.Errorf(certFile, "the CA's key usage lacks keyCertSign, so it cannot issue certificates")
	}
	if time.Now().After(cert.NotAfter) {
		return nil, pkix.Errorf(certFile, "the CA expired on %s", cert.NotAfter.UTC().Format(time.RFC3339)).
			WithNext("create a new CA with %s", pkix.ActMakeCA)
	}
	s, err := local.NewSigner(key, cert, signer.DefaultSigAlgo(key), cfg.Cfg.Signing)
	if err != nil {
		return nil, fmt.Errorf("setting up the signer: %s", cfsslconf.CfsslMessage(err))
	}
	return &Issuer{Cert: cert, Key: key, Config: cfg, signer: s}, nil
}

// Issue generates a key and CSR for req and signs it with the named
// profile.
func (is *Issuer) Issue(req *cfsslconf.Request, profile string) (*Issued, []string, error) {
	return is.IssueWithin(req, profile, Lifetime{})
}

// IssueWithin is Issue with the lifetime life instead of the profile's
// (when not zero; CheckLifetime says whether the CA grants it).
func (is *Issuer) IssueWithin(req *cfsslconf.Request, profile string, life Lifetime) (*Issued, []string, error) {
	p, err := is.Config.Profile(profile)
	if err != nil {
		return nil, nil, err
	}
	return is.sign(is.signer, req.CR, req.Extensions, profile, profile, p.Expiry, life, "certificate")
}

// sign is the one flow behind every certificate a CA here issues, leaf or
// intermediate: generate the key, make the CSR, sign it with s under
// profile, read the result back. A profile lifetime that would outlive the
// CA is cut at the CA's expiry, with a warning: such a certificate stops
// verifying then anyway. shown names the profile in messages; what names
// the certificate ("certificate", "intermediate").
func (is *Issuer) sign(s *local.Signer, cr *csr.CertificateRequest, exts []signer.Extension, profile, shown string, expiry time.Duration, life Lifetime, what string) (*Issued, []string, error) {
	priv, err := generateKey(cr.KeyRequest)
	if err != nil {
		return nil, nil, err
	}
	csrPEM, err := csr.Generate(priv, cr)
	if err != nil {
		return nil, nil, fmt.Errorf("making the CSR: %s", cfsslconf.CfsslMessage(err))
	}
	issued, warnings, err := is.signWith(s, signer.SignRequest{Hosts: cr.Hosts, Request: string(csrPEM), Profile: profile, Extensions: exts}, shown, expiry, life, what)
	if err != nil {
		return nil, nil, err
	}
	if issued.KeyPEM, err = pemutil.MarshalKeyPEM(priv); err != nil {
		return nil, nil, err
	}
	issued.CSRPEM = csrPEM
	return issued, warnings, nil
}

// signWith signs sr with s and reads the certificate back. A profile
// lifetime that would outlive the CA is cut at the CA's expiry, with a
// warning when the cut is more than a day; a lifetime asked for (life)
// is taken as it is.
func (is *Issuer) signWith(s *local.Signer, sr signer.SignRequest, shown string, expiry time.Duration, life Lifetime, what string) (*Issued, []string, error) {
	var warnings []string
	if !life.IsZero() {
		sr.NotAfter = life.end(time.Now())
	} else if notAfter := time.Now().Add(expiry); notAfter.After(is.Cert.NotAfter) {
		sr.NotAfter = is.Cert.NotAfter
		// A cut of minutes (a CA and its first certificates made together)
		// is not worth a warning; a cut of days is.
		if notAfter.Sub(is.Cert.NotAfter) > 24*time.Hour {
			warnings = append(warnings, fmt.Sprintf("profile %q grants %s, but the issuing CA expires on %s: the %s ends then",
				shown, cfsslconf.FormatDuration(expiry), is.Cert.NotAfter.UTC().Format("2006-01-02"), what))
		}
	}
	certPEM, err := s.Sign(sr)
	if err != nil {
		return nil, nil, fmt.Errorf("signing: %s", cfsslconf.CfsslMessage(err))
	}
	cert, err := pemutil.ParseCertificatePEM("new "+what, certPEM)
	if err != nil {
		return nil, nil, err
	}
	return &Issued{Cert: cert, CertPEM: certPEM}, warnings, nil
}

// generateKey makes the key a request asks for (cfssl's default when it
// asks for none).
func generateKey(kr *csr.KeyRequest) (crypto.Signer, error) {
	if kr == nil {
		kr = csr.NewKeyRequest()
	}
	generated, err := kr.Generate()
	if err != nil {
		return nil, fmt.Errorf("generating a %s key: %v", cfsslconf.KeyTypeName(kr), err)
	}
	priv, ok := generated.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("generated key %T cannot sign", generated)
	}
	return priv, nil
}
