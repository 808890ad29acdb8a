package pkix

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"slices"
	"strings"
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
	// Warnings are what is wrong with the CAs themselves, for the start.
	Warnings []string
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
	// A CA with a critical extension no verifier understands lets nobody
	// in: say so at start, not in every 403.
	for _, c := range caBundle {
		if ch := checkCriticalExtensions(c); ch.Status != Pass {
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s: %s: %s", file, cn(c), ch.Message))
		}
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
	// What OpenSSL's -purpose sslclient refuses and Go's Verify lets
	// through: a CA certificate, or a key that may not sign, presented as
	// a client certificate.
	if why := clientPurposeFailure(leaf); why != "" {
		v.Auth.CertVerified = "FAILED:unsupported certificate purpose"
		v.Reason = "unsupported certificate purpose: " + why
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

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// clientPurposeFailure says why c is not a TLS client certificate, the
// way openssl verify -purpose sslclient judges the leaf, or "": a CA
// certificate (CA:TRUE) is not one; a key usage extension must allow
// digitalSignature (the client signs the handshake); an extended key usage
// must include clientAuth or anyExtendedKeyUsage.
func clientPurposeFailure(c *x509.Certificate) string {
	if c.BasicConstraintsValid && c.IsCA {
		return "a CA certificate (CA:TRUE) is not a client certificate"
	}
	for _, e := range c.Extensions {
		if e.Id.Equal(oidKeyUsage) && c.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			return "its key usage does not include digitalSignature"
		}
	}
	if len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0 {
		if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return "its extended key usage does not include clientAuth"
		}
	}
	return ""
}

// IssuingCAs returns, out of the policy's own CAs and candidates (say the
// CA certificates found in a PKI directory), every CA certificate that
// chains to the policy's roots: the CAs whose CRLs count. The policy's
// own come first; duplicates are dropped.
func (p *AccessPolicy) IssuingCAs(own, candidates []*x509.Certificate, now time.Time) []*x509.Certificate {
	pool := x509.NewCertPool()
	for _, c := range p.Intermediates {
		pool.AddCert(c)
	}
	for _, c := range candidates {
		if c.IsCA {
			pool.AddCert(c)
		}
	}
	seen := map[string]bool{}
	var out []*x509.Certificate
	for _, c := range append(slices.Clip(own), candidates...) {
		if !c.IsCA || seen[string(c.Raw)] {
			continue
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: p.Roots, Intermediates: pool, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			continue
		}
		seen[string(c.Raw)] = true
		out = append(out, c)
	}
	return out
}

// SameCA reports whether a and b are the same CA for revocation: the same
// subject and the same key (a re-issued CA certificate still signs the
// same CRL).
func SameCA(a, b *x509.Certificate) bool {
	return a != nil && b != nil && bytes.Equal(a.RawSubject, b.RawSubject) && bytes.Equal(a.RawSubjectPublicKeyInfo, b.RawSubjectPublicKeyInfo)
}

// HandshakeRefusal words why Go's TLS stack refused a client certificate
// it could not parse (parseErr is its message): Go will not read a
// certificate with an extension RFC 5280 requires non-critical (SKI, AKI,
// AIA) marked critical, which OpenSSL (and Access) call an unhandled
// critical extension.
func HandshakeRefusal(parseErr string) string {
	reason := "client certificate refused in the TLS handshake: " + parseErr
	if criticalMarked(parseErr) {
		reason += " (OpenSSL: unhandled critical extension)"
	}
	return reason
}

// criticalMarked recognises crypto/x509's refusal of a certificate with an
// extension RFC 5280 requires non-critical (SKI, AKI, AIA) marked critical:
// it has no error type, only this wording.
func criticalMarked(parseErr string) bool {
	return strings.Contains(parseErr, "incorrectly marked critical")
}

// verifyFailure words a verification error the way OpenSSL's verify
// strings (and so Access's certVerified) do.
func verifyFailure(err error, leaf *x509.Certificate, now time.Time) string {
	var inv x509.CertificateInvalidError
	var unknown x509.UnknownAuthorityError
	switch {
	case errors.As(err, new(x509.UnhandledCriticalExtension)):
		// OpenSSL's words (X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION): the
		// client certificate or a CA above it has a critical extension
		// no verifier here understands.
		return "unhandled critical extension"
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
	path string
	cas  []*x509.Certificate
	warn func(string)
	info func(string)
	// mu guards what requests read (issuer, revoked, number), and is
	// never held across I/O: a file that does not answer (a FIFO put in
	// the CRL's place, a slow disk) must not stall every request behind
	// it. loading is held by the one request that re-reads the file; the
	// others answer with the CRL in force meanwhile.
	mu      sync.Mutex
	loading sync.Mutex
	stamp   fileStamp
	issuer  *x509.Certificate
	revoked map[string]bool // serialKey → revoked
	number  string
	// nextUpdate is the loaded CRL's; staleWarned is set once it was
	// warned about having passed, missing once a vanished file was.
	// These, stamp and numberInt are touched only under loading.
	nextUpdate  time.Time
	staleWarned bool
	missing     bool
	// numberInt is the CRL number in force, to refuse going backwards.
	numberInt *big.Int
	guard     CRLGuard // see crlguard.go; nil: none
}

type fileStamp struct {
	mod    time.Time
	size   int64
	change [3]int64 // inode and change time (Linux)
}

func stampOf(info os.FileInfo) fileStamp {
	return fileStamp{info.ModTime(), info.Size(), changeOf(info)}
}

// LoadCRLStore reads and verifies the CRL at path against the CAs (the
// uploaded ones and the intermediates that chain to them: see IssuingCAs).
// warn and info receive messages about later reloads; either may be nil.
// A CRL whose next update has passed is loaded, with a warning.
func LoadCRLStore(path string, cas []*x509.Certificate, warn, info func(string)) (*CRLStore, error) {
	s := &CRLStore{path: path, cas: cas, warn: warn, info: info}
	if err := s.reload(); err != nil {
		return nil, err
	}
	s.checkStale(time.Now())
	return s, nil
}

// checkStale warns, once per loaded CRL, when its next update has passed:
// whoever checks CRLs strictly refuses it, and what was revoked since it
// was built is not on it.
func (s *CRLStore) checkStale(now time.Time) {
	if s.staleWarned || s.nextUpdate.IsZero() || !now.After(s.nextUpdate) {
		return
	}
	s.staleWarned = true
	if s.warn != nil {
		s.warn(Textf("%s: the next update of CRL number %s (%s) has passed; rebuild it: %s",
			s.path, s.number, s.nextUpdate.UTC().Format(time.RFC3339), Cmd(ActBuildCRL, "serials.txt")).String())
	}
}

func (s *CRLStore) reload() error {
	// Only a regular file, opened without blocking and read up to the
	// CRL cap: a FIFO would hang the reload, /dev/zero fill memory.
	data, info, err := ReadRegular(s.path, InputCRL)
	if err != nil {
		return err
	}
	stamp := stampOf(info)
	revoked := map[string]bool{}
	rl, err := ScanCRL(s.path, data, func(e RevokedEntry) {
		revoked[serialKey(e.Negative, e.Serial)] = true
	})
	if err != nil {
		return err
	}
	var issuer *x509.Certificate
	var why error
	for _, ca := range s.cas {
		if !ca.IsCA {
			continue
		}
		if err := rl.VerifyBy(ca, "the policy's CA "+SubjectDN(ca)); err == nil {
			issuer = ca
			break
		} else if f, ok := err.(*SignatureFailure); ok && f.Part != "issuer name" && why == nil {
			why = err // the CRL's CA is here, but something else is wrong: say what
		}
	}
	if issuer == nil {
		e := errorf(s.path, "the CRL does not verify against any CA in the policy")
		if why != nil {
			e = errorf(s.path, "the CRL does not verify against any CA in the policy (%v)", why)
		}
		return e.withNext("build it with the same CA: %s; an intermediate's CRL needs the intermediate, in %s or as a .pem file in %s", Cmd(ActBuildCRL, "serials.txt"), OptCA, OptDir)
	}
	// The file is this store's CA's CRL: another CA's, even one of the
	// policy, would drop every revocation the CA made (and its number is
	// not comparable).
	if s.issuer != nil && !SameCA(issuer, s.issuer) {
		return errorf(s.path, "is now a CRL of %s, not of %s as before", SubjectDN(issuer), SubjectDN(s.issuer)).
			withNext("put each CA's CRL in its own file: serve %s %s", OptCRL.With("root.crl"), OptCRL.With("intermediate.crl"))
	}
	// A delta, partitioned or indirect CRL, or one with a critical
	// extension nobody here understands, would let in what it leaves out.
	if err := rl.Usable(); err != nil {
		return err
	}
	// A CRL older than the one in force (say restored from git) would
	// quietly un-revoke certificates: keep the newer one.
	if s.numberInt != nil && (rl.Number == nil || rl.Number.Cmp(s.numberInt) < 0) {
		return errorf(s.path, "CRL number %v is older than the one in force (%v)", rl.Number, s.numberInt).
			withNext("rebuild it: %s", Cmd(ActBuildCRL, "serials.txt"))
	}
	if s.guard != nil {
		if err := s.guard(s.path, rl, issuer); err != nil {
			return err
		}
	}
	s.numberInt = rl.Number
	number := ""
	if rl.Number != nil {
		number = rl.Number.String()
	}
	if !rl.NextUpdate.Equal(s.nextUpdate) {
		s.staleWarned = false
	}
	if s.warn != nil {
		for _, w := range rl.Warnings {
			s.warn(s.path + ": " + w)
		}
	}
	s.mu.Lock()
	s.issuer, s.revoked, s.number = issuer, revoked, number
	s.mu.Unlock()
	s.stamp, s.nextUpdate = stamp, rl.NextUpdate
	return nil
}

// refresh re-reads the file if it changed since the last read, unless
// another request is already at it.
func (s *CRLStore) refresh() {
	if !s.loading.TryLock() {
		return
	}
	defer s.loading.Unlock()
	defer s.checkStale(time.Now())
	info, err := os.Stat(s.path)
	if err != nil {
		// Once, not on every request: a missing file stays missing.
		if !s.missing && s.warn != nil {
			s.warn(fmt.Sprintf("%s: cannot read (%v); keeping CRL number %s until it is back", s.path, unwrapPathError(err), s.number))
		}
		s.missing = true
		return
	}
	if s.missing {
		s.missing = false
		if (stampOf(info)) == s.stamp && s.info != nil {
			s.info(fmt.Sprintf("%s: readable again, CRL number %s", s.path, s.number))
		}
	}
	if (stampOf(info)) == s.stamp {
		return
	}
	old := s.number
	if err := s.reload(); err != nil {
		// Remember the bad file's stamp so it is not re-read and re-warned
		// on every request; a fixed file will have a new stamp.
		s.stamp = stampOf(info)
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
	s.refresh()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.issuer == nil || !SameCA(issuer, s.issuer) {
		return false // the CRL is another CA's (e.g. the root's, for an intermediate's leaf)
	}
	return s.revoked[serialKey(leaf.SerialNumber.Sign() < 0, leaf.SerialNumber.Bytes())]
}

// serialKey is a serial as a map key: its sign and big-endian magnitude,
// as the CRL reader streams it (no big.Int per entry).
func serialKey(negative bool, magnitude []byte) string {
	if negative {
		return "-" + string(magnitude)
	}
	return string(magnitude)
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
