package crl

import (
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// serve's CRL store follows its file: a replacement with the same size
// and modification time is still read, and a CRL of another CA of the
// policy is refused on reload, keeping the revocations in force.
func TestCRLStoreReloads(t *testing.T) {
	root := testpki.NewCA(t, "ecdsa-256")
	other := testpki.NewCA(t, "ecdsa-256")
	leaf := &x509.Certificate{SerialNumber: big.NewInt(0x4242)}
	crlOf := func(ca *testpki.CA, number int64, serials ...int64) []byte {
		var entries []x509.RevocationListEntry
		for _, s := range serials {
			entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(s), RevocationTime: time.Now().Add(-time.Hour)})
		}
		return signCRL(t, ca, &x509.RevocationList{Number: big.NewInt(number), NextUpdate: time.Now().Add(time.Hour), RevokedCertificateEntries: entries})
	}
	path := filepath.Join(t.TempDir(), "ca.crl")
	stamp := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	write := func(der []byte) {
		t.Helper()
		tmp := path + ".new"
		if err := os.WriteFile(tmp, der, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(tmp, stamp, stamp) // as cp -p or rsync -t keep it
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	// Two CRLs of the same size: one revoking nothing, one revoking the
	// leaf (ECDSA signatures vary in length: sign until they match).
	first := crlOf(root, 9, 0x4141)
	var second []byte
	for range 100 {
		if second = crlOf(root, 10, 0x4242); len(second) == len(first) {
			break
		}
	}
	if len(second) != len(first) {
		t.Fatal("could not make two CRLs of one size")
	}
	write(first)
	var warnings []string
	store, err := LoadCRLStore(path, []*x509.Certificate{root.Cert, other.Cert}, func(w string) { warnings = append(warnings, w) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	if store.Revoked(root.Cert, leaf) {
		t.Fatal("revoked before its CRL says so")
	}
	write(second)
	if !store.Revoked(root.Cert, leaf) {
		t.Fatal("a replaced CRL with the same size and modification time was not read")
	}
	// Another CA's CRL, with a higher number, in the same file.
	write(crlOf(other, 99))
	if !store.Revoked(root.Cert, leaf) {
		t.Error("another CA's CRL dropped the root's revocations")
	}
	if !strings.Contains(strings.Join(warnings, "\n"), "is now a CRL of") {
		t.Errorf("warnings: %q", warnings)
	}
}
