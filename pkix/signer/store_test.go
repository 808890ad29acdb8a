package signer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	cfsql "github.com/cloudflare/cfssl/certdb/sql"
	"github.com/jmoiron/sqlx"
	"github.com/mtlsctl/mtlsctl/pkix/signer/pgtest"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openStore(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := Migrate(ctx, s.DB()); err != nil {
		t.Fatal(err)
	}
	return s
}

// testCert is a leaf with a serial whose top bit is set (so its hex and
// decimal forms differ in every digit) signed by a throwaway CA.
func testCert(t *testing.T, serial *big.Int, cn string) (*x509.Certificate, []byte) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), SubjectKeyId: []byte{0xAB, 0xCD, 0x01}}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{"a.example"},
		NotBefore: time.Now().Add(-time.Minute).Truncate(time.Second), NotAfter: time.Now().Add(24 * time.Hour).Truncate(time.Second)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// The schema is applied once: a second run (and a concurrent one)
// changes nothing, and goose's table records cfssl's versions 1 and 2.
func TestMigrateIsIdempotent(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done, err := Migrate(ctx, s.DB())
			if err == nil && len(done) > 0 {
				err = errors.New("applied again: " + done[0])
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var versions []int64
	rows, err := s.DB().QueryContext(ctx, `SELECT version_id FROM goose_db_version WHERE is_applied ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v int64
		rows.Scan(&v)
		versions = append(versions, v)
	}
	rows.Close()
	if len(versions) != 4 || versions[0] != 0 || versions[1] != 1 || versions[2] != 2 || versions[3] != schemaVersion {
		t.Fatalf("goose versions %v", versions)
	}
}

// A database of a newer schema is refused, not written to.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (2000, true)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Migrate(ctx, s.DB()); err == nil {
		t.Fatal("a newer schema was accepted")
	}
}

// What mtlsctl records, cfssl's own accessor reads back: the serial in
// decimal, the AKI in lower-case hex, status good, and every column
// cfssl scans non-NULL.
func TestCfsslReadsOurRows(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	serial, _ := new(big.Int).SetString("F1E2D3C4B5A6978877665544332211000FEDCBA9", 16)
	cert, certPEM := testCert(t, serial, "device-1")
	now := time.Now().Truncate(time.Second)
	if err := s.Record(ctx, RowOf(cert, certPEM, "", "runner-7", now), []byte("nonce-1")); err != nil {
		t.Fatal(err)
	}
	acc := cfsql.NewAccessor(sqlx.NewDb(s.DB(), "postgres"))
	got, err := acc.GetCertificate(serial.String(), "abcd01")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Fatalf("cfssl found %d rows for serial %s, AKI abcd01", len(got), serial)
	}
	r := got[0]
	if r.Status != "good" || r.PEM != string(certPEM) || !r.Expiry.Equal(cert.NotAfter) || r.CommonName.String != "device-1" {
		t.Errorf("cfssl read %+v", r)
	}
	meta, err := r.GetMetadata()
	if err != nil || meta["mtlsctl_runner"] != "runner-7" {
		t.Errorf("metadata %v %v", meta, err)
	}
	if sans, _ := r.GetSANs(); len(sans) != 1 || sans[0] != "a.example" {
		t.Errorf("sans %v", sans)
	}
	// cfssl revokes it with its own accessor, as its revoke tooling does.
	if err := acc.RevokeCertificate(serial.String(), "abcd01", 1); err != nil {
		t.Fatal(err)
	}
	revoked, err := acc.GetRevokedAndUnexpiredCertificates()
	if err != nil || len(revoked) != 1 || revoked[0].Reason != 1 {
		t.Fatalf("revoked %+v %v", revoked, err)
	}
	if h, err := SerialHex(r.Serial); err != nil || h != "F1E2D3C4B5A6978877665544332211000FEDCBA9" {
		t.Errorf("SerialHex = %s %v", h, err)
	}
	if d, err := SerialDecimal("f1e2d3c4b5a6978877665544332211000fedcba9"); err != nil || d != serial.String() {
		t.Errorf("SerialDecimal = %s %v", d, err)
	}
}

// A nonce used once is refused the second time, and the second
// certificate is not recorded: the row and the nonce commit together.
func TestReplayedNonceRecordsNothing(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	c1, p1 := testCert(t, big.NewInt(1001), "a")
	c2, p2 := testCert(t, big.NewInt(1002), "b")
	now := time.Now()
	if err := s.Record(ctx, RowOf(c1, p1, "", "r", now), []byte("same")); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, RowOf(c2, p2, "", "r", now), []byte("same")); !errors.Is(err, ErrReplay) {
		t.Fatalf("err = %v, want ErrReplay", err)
	}
	var n int
	s.DB().QueryRowContext(ctx, `SELECT count(*) FROM certificates`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	// Pruning forgets only nonces the database saw longer ago than asked.
	if k, err := s.PruneNonces(ctx, NonceKeep); err != nil || k != 0 {
		t.Fatalf("pruned %d %v", k, err)
	}
	if _, err := s.DB().ExecContext(ctx, `UPDATE mtlsctl_nonces SET seen_at = now() - interval '10 minutes'`); err != nil {
		t.Fatal(err)
	}
	if k, err := s.PruneNonces(ctx, NonceKeep); err != nil || k != 1 {
		t.Fatalf("pruned %d %v", k, err)
	}
}

// Many writers at once, one nonce each: every row lands, none twice.
func TestConcurrentRecords(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, p := testCert(t, big.NewInt(int64(5000+i)), "dev")
			errs <- s.Record(ctx, RowOf(c, p, "", "r", time.Now()), []byte{byte(i), 1})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	s.DB().QueryRowContext(ctx, `SELECT count(*) FROM certificates`).Scan(&n)
	if n != 40 {
		t.Fatalf("%d rows, want 40", n)
	}
}

func stopDatabase(t *testing.T)  { pgtest.StopServer(t) }
func startDatabase(t *testing.T) { pgtest.StartServer(t) }

// Serials read from the database print as every other mtlsctl serial:
// whole bytes, so a leading zero nibble is kept.
func TestSerialHexMatchesTheRest(t *testing.T) {
	for _, hexSerial := range []string{"022D3164BAF348CB02972E02E61F7438E34CDB02", "7F", "0A", "00FF"} {
		dec, err := SerialDecimal(hexSerial)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := new(big.Int).SetString(dec, 10)
		got, err := SerialHex(dec)
		if err != nil || got != x509text.SerialHex(n) {
			t.Errorf("%s: %s, want %s", hexSerial, got, x509text.SerialHex(n))
		}
	}
}
