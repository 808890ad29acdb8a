package crl

import (
	"crypto/x509"
	"time"
)

// CRLGuard judges a CRL that verified against issuer before a CRLStore
// puts it in force: the PKI directory refuses one that is behind its own
// CRL of the same CA (pkidir's GuardCRL). At start a refusal is an
// error; on a reload the last good CRL stays, with a warning.
type CRLGuard func(file string, rl *RevocationList, issuer *x509.Certificate) error

// LoadGuardedCRLStore is LoadCRLStore with every load, the first and each
// reload, judged by guard as well.
func LoadGuardedCRLStore(path string, cas []*x509.Certificate, guard CRLGuard, warn, info func(string)) (*CRLStore, error) {
	s := &CRLStore{path: path, cas: cas, warn: warn, info: info, guard: guard}
	if err := s.reload(); err != nil {
		return nil, err
	}
	s.checkStale(time.Now())
	return s, nil
}
