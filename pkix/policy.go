package pkix

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"sync"
	"time"
)

// TLSClientAuth is request.cf.tlsClientAuth as Access fills it in.
type TLSClientAuth struct {
	CertPresented string `json:"certPresented"` // "1" or "0"
	CertVerified  string `json:"certVerified"`  // SUCCESS, NONE, FAILED:<reason>
	CertRevoked   string `json:"certRevoked"`   // "1" or "0"
	AccessFields
}

// Verdict is what an Access mTLS policy decides for one request.
type Verdict struct {
	Allowed bool
	Reason  string // empty when allowed
	Leaf    *x509.Certificate
	Auth    TLSClientAuth
}

// AccessPolicy behaves like an Access application with an mTLS Service
// Auth policy: the Valid Certificate selector (the certificate chains to
// the uploaded CA) or, with CommonNames, the Common Name selector.
type AccessPolicy struct {
	Roots         *x509.CertPool
	Intermediates []*x509.Certificate // from the uploaded chain
	CommonNames   []string
	CRLs          []*CRLStore // one per issuing CA that publishes one
}

// NewAccessPolicy builds a policy from an uploaded CA bundle: self-signed
// certificates are roots, the others intermediates.
func NewAccessPolicy(file string, caBundle []*x509.Certificate, commonNames []string, crls []*CRLStore) (*AccessPolicy, error) {
	p := &AccessPolicy{Roots: x509.NewCertPool(), CommonNames: commonNames, CRLs: crls}
	roots := 0
	for _, c := range caBundle {
		if !c.IsCA {
			return nil, errorf(file, "%s is not a CA certificate", cn(c)).withHint("give the CA (or chain) you upload to Access, not a client certificate")
		}
		if isSelfSigned(c) {
			p.Roots.AddCert(c)
			roots++
		} else {
			p.Intermediates = append(p.Intermediates, c)
		}
	}
	if roots == 0 {
		return nil, errorf(file, "has no root (self-signed) certificate").withHint("upload the whole chain, up to the root, as Access wants it")
	}
	return p, nil
}

// Evaluate decides a request from the certificates the client presented.
func (p *AccessPolicy) Evaluate(presented []*x509.Certificate, now time.Time) Verdict {
	if len(presented) == 0 {
		return Verdict{Reason: "no client certificate", Auth: TLSClientAuth{CertPresented: "0", CertVerified: "NONE", CertRevoked: "0"}}
	}
	leaf := presented[0]
	v := Verdict{Leaf: leaf, Auth: TLSClientAuth{CertPresented: "1", CertRevoked: "0", AccessFields: AccessView(leaf)}}
	inter := x509.NewCertPool()
	for _, c := range p.Intermediates {
		inter.AddCert(c)
	}
	for _, c := range presented[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		reason := verifyFailure(err, leaf, now)
		v.Auth.CertVerified = "FAILED:" + reason
		v.Reason = reason
		return v
	}
	v.Auth.CertVerified = "SUCCESS"
	// Every link of the chain is checked against the CRL of the CA that
	// signed it: a revoked intermediate takes its whole subtree with it.
	if len(chains) > 0 {
		chain := chains[0]
		for k := 0; k+1 < len(chain); k++ {
			for _, crl := range p.CRLs {
				if crl.Revoked(chain[k+1], chain[k]) {
					v.Auth.CertRevoked = "1"
					v.Reason = "certificate revoked"
					if k > 0 {
						v.Reason = fmt.Sprintf("issuing CA %s revoked", cn(chain[k]))
					}
					return v
				}
			}
		}
	}
	if len(p.CommonNames) > 0 && !slices.Contains(p.CommonNames, leaf.Subject.CommonName) {
		v.Reason = fmt.Sprintf("common name %q is not allowed by the policy", leaf.Subject.CommonName)
		return v
	}
	v.Allowed = true
	return v
}

// verifyFailure words a verification error the way OpenSSL's verify
// strings (and so Access's certVerified) do.
func verifyFailure(err error, leaf *x509.Certificate, now time.Time) string {
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv):
		switch inv.Reason {
		case x509.Expired:
			if now.Before(inv.Cert.NotBefore) {
				return "certificate is not yet valid"
			}
			return "certificate has expired"
		case x509.IncompatibleUsage:
			return "unsupported certificate purpose"
		case x509.NotAuthorizedToSign:
			return "invalid CA certificate"
		case x509.TooManyIntermediates:
			return "path length constraint exceeded"
		}
		return inv.Error()
	case errors.As(err, &unknown):
		if bytes.Equal(leaf.RawIssuer, leaf.RawSubject) {
			return "self signed certificate"
		}
		return "unable to get local issuer certificate"
	}
	return err.Error()
}

// CRLStore holds the revoked serials of a CRL file and re-reads the file
// when it changes, so a new `crl build` takes effect on the next request.
// A CRL that does not verify against the CA is refused: at start as an
// error, later with a warning while the last good one stays in force.
type CRLStore struct {
	path    string
	cas     []*x509.Certificate
	warn    func(string)
	info    func(string)
	mu      sync.Mutex
	stamp   fileStamp
	issuer  *x509.Certificate
	revoked map[string]bool // serial (decimal) → revoked
	number  string
	// numberInt is the CRL number in force, to refuse going backwards.
	numberInt *big.Int
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// LoadCRLStore reads and verifies the CRL at path against the CAs.
// warn and info receive messages about later reloads; either may be nil.
func LoadCRLStore(path string, cas []*x509.Certificate, warn, info func(string)) (*CRLStore, error) {
	s := &CRLStore{path: path, cas: cas, warn: warn, info: info}
	if err := s.reload(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *CRLStore) reload() error {
	info, err := os.Stat(s.path)
	if err != nil {
		return errorf(s.path, "cannot read: %v", unwrapPathError(err))
	}
	stamp := fileStamp{info.ModTime(), info.Size()}
	data, err := os.ReadFile(s.path)
	if err != nil {
		return errorf(s.path, "cannot read: %v", unwrapPathError(err))
	}
	rl, err := ParseCRL(s.path, data)
	if err != nil {
		return err
	}
	var issuer *x509.Certificate
	for _, ca := range s.cas {
		if bytes.Equal(rl.RawIssuer, ca.RawSubject) && rl.CheckSignatureFrom(ca) == nil {
			issuer = ca
			break
		}
	}
	if issuer == nil {
		return errorf(s.path, "the CRL does not verify against any CA in the policy").withHint("build it with the same CA: mtlsctl crl build serials.txt")
	}
	// A CRL older than the one in force (say restored from git) would
	// quietly un-revoke certificates: keep the newer one.
	if s.numberInt != nil && (rl.Number == nil || rl.Number.Cmp(s.numberInt) < 0) {
		return errorf(s.path, "CRL number %v is older than the one in force (%v)", rl.Number, s.numberInt).
			withHint("rebuild it: mtlsctl crl build serials.txt")
	}
	s.numberInt = rl.Number
	revoked := make(map[string]bool, len(rl.RevokedCertificateEntries))
	for _, e := range rl.RevokedCertificateEntries {
		revoked[e.SerialNumber.String()] = true
	}
	number := ""
	if rl.Number != nil {
		number = rl.Number.String()
	}
	s.stamp, s.issuer, s.revoked, s.number = stamp, issuer, revoked, number
	return nil
}

// refresh re-reads the file if it changed since the last read.
func (s *CRLStore) refresh() {
	info, err := os.Stat(s.path)
	if err != nil {
		if s.warn != nil {
			s.warn(fmt.Sprintf("%s: cannot read (%v); keeping CRL number %s", s.path, unwrapPathError(err), s.number))
		}
		return
	}
	if (fileStamp{info.ModTime(), info.Size()}) == s.stamp {
		return
	}
	old := s.number
	if err := s.reload(); err != nil {
		// Remember the bad file's stamp so it is not re-read and re-warned
		// on every request; a fixed file will have a new stamp.
		s.stamp = fileStamp{info.ModTime(), info.Size()}
		if s.warn != nil {
			s.warn(fmt.Sprintf("%v; keeping the last good CRL (number %s)", err, old))
		}
		return
	}
	if s.info != nil {
		s.info(fmt.Sprintf("%s: reloaded, CRL number %s, %d revoked", s.path, s.number, len(s.revoked)))
	}
}

// Revoked reports whether leaf, issued by issuer, is on the CRL. Serials
// are compared as integers, never as strings.
func (s *CRLStore) Revoked(issuer, leaf *x509.Certificate) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refresh()
	if s.issuer == nil || !bytes.Equal(issuer.Raw, s.issuer.Raw) {
		return false // the CRL is another CA's (e.g. the root's, for an intermediate's leaf)
	}
	return s.revoked[leaf.SerialNumber.String()]
}

// Issuer is the CA whose CRL this is.
func (s *CRLStore) Issuer() *x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issuer
}

// Number is the CRL number in force.
func (s *CRLStore) Number() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.number
}
