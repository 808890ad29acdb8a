package crl

import (
	"crypto/x509"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"math/big"
	"os"
	"sync"
	"time"
)

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
		s.warn(pkix.Textf("%s: the next update of CRL number %s (%s) has passed; rebuild it: %s",
			s.path, s.number, s.nextUpdate.UTC().Format(time.RFC3339), pkix.Cmd(pkix.ActBuildCRL, "serials.txt")).String())
	}
}

func (s *CRLStore) reload() error {
	// Only a regular file, opened without blocking and read up to the
	// CRL cap: a FIFO would hang the reload, /dev/zero fill memory.
	data, info, err := input.ReadRegular(s.path, input.InputCRL)
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
		if err := rl.VerifyBy(ca, "the policy's CA "+x509text.SubjectDN(ca)); err == nil {
			issuer = ca
			break
		} else if f, ok := err.(*SignatureFailure); ok && f.Part != "issuer name" && why == nil {
			why = err // the CRL's CA is here, but something else is wrong: say what
		}
	}
	if issuer == nil {
		e := pkix.Errorf(s.path, "the CRL does not verify against any CA in the policy")
		if why != nil {
			e = pkix.Errorf(s.path, "the CRL does not verify against any CA in the policy (%v)", why)
		}
		return e.WithNext("build it with the same CA: %s; an intermediate's CRL needs the intermediate, in %s or as a .pem file in %s", pkix.Cmd(pkix.ActBuildCRL, "serials.txt"), pkix.OptCA, pkix.OptDir)
	}
	// The file is this store's CA's CRL: another CA's, even one of the
	// policy, would drop every revocation the CA made (and its number is
	// not comparable).
	if s.issuer != nil && !chain.SameCA(issuer, s.issuer) {
		return pkix.Errorf(s.path, "is now a CRL of %s, not of %s as before", x509text.SubjectDN(issuer), x509text.SubjectDN(s.issuer)).
			WithNext("put each CA's CRL in its own file: serve %s %s", pkix.OptCRL.With("root.crl"), pkix.OptCRL.With("intermediate.crl"))
	}
	// A delta, partitioned or indirect CRL, or one with a critical
	// extension nobody here understands, would let in what it leaves out.
	if err := rl.Usable(); err != nil {
		return err
	}
	// A CRL older than the one in force (say restored from git) would
	// quietly un-revoke certificates: keep the newer one.
	if s.numberInt != nil && (rl.Number == nil || rl.Number.Cmp(s.numberInt) < 0) {
		return pkix.Errorf(s.path, "CRL number %v is older than the one in force (%v)", rl.Number, s.numberInt).
			WithNext("rebuild it: %s", pkix.Cmd(pkix.ActBuildCRL, "serials.txt"))
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
			s.warn(fmt.Sprintf("%s: cannot read (%v); keeping CRL number %s until it is back", s.path, atomicfile.UnwrapPathError(err), s.number))
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
	if s.issuer == nil || !chain.SameCA(issuer, s.issuer) {
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
