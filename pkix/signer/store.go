package signer

import (
	"context"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/lib/pq"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Store is the signer's record: cfssl's certificates table, written by
// mtlsctl's own accessor so that a certificate's row, the nonce of the
// request that asked for it and the runner's identity commit together
// (cfssl's accessor has no transactions, and its local signer inserts
// after signing). A certificate leaves the signer only once Record has
// returned nil.
type Store struct {
	db *sql.DB
}

// Open connects to the database at dsn (a postgres:// URL or a libpq
// key=value string) and checks that it answers.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	// database/sql keeps 2 idle connections by default: under concurrent
	// requests the rest are closed after each use and opened again, and
	// PostgreSQL forks a backend for every new connection (most of the
	// database's CPU in a profile of the signer under load). The pool
	// keeps as many as it may open.
	db.SetMaxOpenConns(PoolSize)
	db.SetMaxIdleConns(PoolSize)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("the database does not answer: %w", err)
	}
	return &Store{db: db}, nil
}

// PoolSize bounds the signer's connections to PostgreSQL (whose default
// max_connections is 100, shared with other signers and tools).
const PoolSize = 16

// DB is the connection pool, for cfssl's own accessor and for tests.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the pool.
func (s *Store) Close() error { return s.db.Close() }

// ErrReplay is a request whose nonce was already used.
var ErrReplay = errors.New("this request was already used (a replay)")

// Row is one certificate as cfssl's certdb writes it: serial in decimal,
// authority key identifier in lower-case hex, status "good", metadata
// and SANs as JSON.
type Row struct {
	Serial, AKI, CALabel, Status, CommonName string
	Reason                                   int
	Expiry, NotBefore, IssuedAt              time.Time
	RevokedAt                                *time.Time
	PEM                                      string
	Metadata                                 map[string]any
	SANs                                     []string
}

// RowOf is the row cfssl's local signer would write for cert (signed
// under label), with the runner that asked for it in the metadata.
func RowOf(cert *x509.Certificate, certPEM []byte, label, runner string, now time.Time) Row {
	meta := map[string]any{}
	if runner != "" {
		meta["mtlsctl_runner"] = runner
	}
	sans := append([]string{}, cert.DNSNames...)
	return Row{
		Serial:     cert.SerialNumber.String(),
		AKI:        hex.EncodeToString(cert.AuthorityKeyId),
		CALabel:    label,
		Status:     "good",
		CommonName: cert.Subject.CommonName,
		Expiry:     cert.NotAfter,
		NotBefore:  cert.NotBefore,
		IssuedAt:   now,
		PEM:        string(certPEM),
		Metadata:   meta,
		SANs:       sans,
	}
}

// SerialHex is a certdb serial (decimal) as mtlsctl shows serials
// everywhere (pkix.SerialHex: upper-case, whole bytes).
func SerialHex(decimal string) (string, error) {
	n, ok := new(big.Int).SetString(decimal, 10)
	if !ok || n.Sign() < 0 {
		return "", fmt.Errorf("serial %q is not a decimal number", decimal)
	}
	return x509text.SerialHex(n), nil
}

// SerialDecimal is a hex serial (as users give it) as certdb stores it.
func SerialDecimal(hexSerial string) (string, error) {
	n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(hexSerial), "0x"), 16)
	if !ok || n.Sign() < 0 {
		return "", fmt.Errorf("serial %q is not hexadecimal", hexSerial)
	}
	return n.String(), nil
}

const insertCertificate = `
INSERT INTO certificates (serial_number, authority_key_identifier, ca_label, status, reason, expiry, revoked_at, pem,
  issued_at, not_before, metadata, sans, common_name)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`

// Record commits row and, when nonce is not nil, the request's nonce, in
// one statement (one transaction, one round trip to the database: a
// signer's throughput is bounded by it). A nonce already recorded is
// ErrReplay, and nothing is written. An error means the certificate is
// not recorded and must not be handed out.
func (s *Store) Record(ctx context.Context, row Row, nonce []byte) error {
	meta, err := json.Marshal(row.Metadata)
	if err != nil {
		return err
	}
	sans, err := json.Marshal(row.SANs)
	if err != nil {
		return err
	}
	// Never NULL where cfssl writes a value: its reader scans revoked_at
	// into a time.Time and ca_label into a string, and fails on NULL.
	// cfssl writes the zero time and an empty label.
	revokedAt := time.Time{}
	if row.RevokedAt != nil {
		revokedAt = *row.RevokedAt
	}
	args := []any{[]byte(row.Serial), []byte(row.AKI), []byte(row.CALabel), []byte(row.Status), row.Reason, row.Expiry, revokedAt, []byte(row.PEM),
		row.IssuedAt, row.NotBefore, string(meta), string(sans), row.CommonName}
	query := insertCertificate
	if nonce != nil {
		// The nonce's insert and the row's are one statement: both land,
		// or (a seen nonce: unique_violation) neither does.
		query = `WITH nonce AS (INSERT INTO mtlsctl_nonces (nonce, seen_at, serial_number, authority_key_identifier) VALUES ($14, now(), $1, $2))` + insertCertificate
		args = append(args, nonce)
	}
	_, err = s.db.ExecContext(ctx, query, args...)
	var pe *pq.Error
	if errors.As(err, &pe) && pe.Code == "23505" && pe.Constraint == "mtlsctl_nonces_pkey" { // unique_violation
		return ErrReplay
	}
	return err
}

// PruneNonces forgets nonces the database saw more than keep ago, on the
// database's own clock (every signer process writes and prunes by it, so
// their clocks need not agree for this).
func (s *Store) PruneNonces(ctx context.Context, keep time.Duration) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM mtlsctl_nonces WHERE seen_at < now() - make_interval(secs => $1)`, keep.Seconds())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PruneEvery is how often a running signer forgets old nonces.
const PruneEvery = time.Minute

// NonceKeep is how long a nonce is kept: a request is accepted while its
// time is within Window of a signer's clock, so its replay could be too
// for up to 2×Window after it was seen; the rest is room for signers'
// clocks to differ from the database's by up to 2.5 minutes.
const NonceKeep = 2*Window + 5*time.Minute

// PruneLoop prunes old nonces every PruneEvery until ctx ends, so the
// table stays the size of a few minutes of requests. A failure (the
// database away) is retried on the next tick: a nonce kept longer is
// harmless.
func (s *Store) PruneLoop(ctx context.Context) {
	t := time.NewTicker(PruneEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.PruneNonces(ctx, NonceKeep)
		}
	}
}
