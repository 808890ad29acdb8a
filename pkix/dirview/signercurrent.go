package dirview

import (
	"fmt"
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// StaleSignerError is the refusal of a Signer loaded earlier (by a
// long-running signer) that the directory no longer backs: its CA, or a
// CA above it, was revoked since, or its file now holds another
// certificate (ca intermediate --force retired the key it holds).
type StaleSignerError struct {
	File string // the CA's certificate file, as it was loaded
	Name string // the CA's name in the directory
	Why  string // one clause: "was revoked on 2026-12-07, cACompromise"
}

func (e *StaleSignerError) Error() string {
	return fmt.Sprintf("%s: the issuing CA %s %s: it signs nothing more", e.File, e.Name, e.Why)
}

// inventoryStamp is what the inventory cache is keyed on: a changed
// inventory has another size or time.
type inventoryStamp struct {
	size  int64
	mtime time.Time
}

// StillCurrent checks, before one more signing by a Signer loaded
// earlier, what LoadSigner checked when it was loaded: the directory's
// file of that CA still holds the very certificate it signs as (not a
// re-keyed or re-made CA, whose predecessor's key must not go on
// issuing unseen by the directory), and the inventory says neither it
// nor a CA above it was revoked. It is cheap enough for every request:
// the certificate file is small, the inventory is walked again only
// once it changed (its size or time), and then from the cache that
// inventoryData keeps on the same key.
func (d *View) StillCurrent(s *Signer) error {
	if s.File == "" || s.File == "-" || s.File == "stdin" {
		return nil // given on stdin: no file of the directory to compare with
	}
	stale := func(why string) error { return &StaleSignerError{File: s.File, Name: s.Name, Why: why} }
	certs, err := ReadCerts(s.File, pkix.Text{})
	if err != nil {
		return stale("cannot be read any more (" + x509text.Printable(err.Error()) + ")")
	}
	if !certs[0].Equal(s.Issuer.Cert) {
		return stale("was re-keyed or replaced in " + d.Path() + " since it was loaded")
	}
	if chain.IsSelfSigned(s.Issuer.Cert) {
		return nil // a root is never revoked by its own CRL
	}
	// The stamp is taken before the walk: an inventory changed during it
	// is walked again next time.
	var stamp inventoryStamp
	if info, err := os.Stat(d.Inventory()); err == nil {
		stamp = inventoryStamp{size: info.Size(), mtime: info.ModTime()}
	}
	s.mu.Lock()
	same := s.checked != nil && *s.checked == stamp
	s.mu.Unlock()
	if same {
		return nil
	}
	r, err := d.revokedInChain(s.Issuer.Cert, s.Above)
	if err != nil {
		// An inventory that cannot be read cannot say the CA is still
		// good: refused, like a revoked one.
		return stale("cannot be checked against the inventory (" + x509text.Printable(err.Error()) + ")")
	}
	if r != nil {
		when := r.RevokedAt.Format("2006-01-02")
		if r.Reason != "" {
			when += ", " + r.Reason
		}
		if r.SHA256 == x509text.FingerprintSHA256(s.Issuer.Cert) {
			return stale("was revoked on " + when)
		}
		return stale(fmt.Sprintf("is under the CA %s (CN %q, serial %s), revoked on %s", r.Name, r.CN, r.Serial, when))
	}
	s.mu.Lock()
	s.checked = &stamp
	s.mu.Unlock()
	return nil
}
