// Package signer is the core of 'mtlsctl signer': one CA key on one
// host, many CI runners, every certificate recorded in PostgreSQL in
// cfssl's certdb schema, so cfssl's own tools keep reading the database.
package signer

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// schemaVersion is the schema this build writes. Versions 1 and 2 are
// cfssl's own PostgreSQL migrations (certdb/pg/migrations 001 and 002,
// v1.7.1), recorded in goose's table as cfssl's 'goose up' records them,
// so cfssl's tooling sees its migrations applied and runs none twice.
// Version 1000 and up are mtlsctl's own tables, beside cfssl's.
const schemaVersion = 1000

// migration is one step, written idempotently: 'signer init' may run any
// number of times, and two at once are serialised by an advisory lock.
type migration struct {
	version int64
	what    string
	sql     string
}

var migrations = []migration{
	{1, "cfssl certdb 001: certificates and ocsp_responses", `
CREATE TABLE IF NOT EXISTS certificates (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  ca_label                 bytea,
  status                   bytea NOT NULL,
  reason                   int,
  expiry                   timestamptz,
  revoked_at               timestamptz,
  pem                      bytea NOT NULL,
  PRIMARY KEY(serial_number, authority_key_identifier)
);
CREATE TABLE IF NOT EXISTS ocsp_responses (
  serial_number            bytea NOT NULL,
  authority_key_identifier bytea NOT NULL,
  body                     bytea NOT NULL,
  expiry                   timestamptz,
  PRIMARY KEY(serial_number, authority_key_identifier),
  FOREIGN KEY(serial_number, authority_key_identifier) REFERENCES certificates(serial_number, authority_key_identifier)
);`},
	{2, "cfssl certdb 002: issued_at, not_before, metadata, sans, common_name", `
ALTER TABLE certificates
  ADD COLUMN IF NOT EXISTS issued_at   timestamptz,
  ADD COLUMN IF NOT EXISTS not_before  timestamptz,
  ADD COLUMN IF NOT EXISTS metadata    jsonb,
  ADD COLUMN IF NOT EXISTS sans        jsonb,
  ADD COLUMN IF NOT EXISTS common_name text;`},
	// The nonces of signing requests: a request's nonce is inserted in
	// the transaction that records its certificate, so a replay (to this
	// signer or another sharing the database) fails on the primary key
	// and nothing is signed twice. Old nonces are pruned once outside
	// the freshness window, when no replay of theirs can be accepted.
	{1000, "mtlsctl: request nonces, CRL numbers", `
CREATE TABLE IF NOT EXISTS mtlsctl_nonces (
  nonce                    bytea PRIMARY KEY,
  seen_at                  timestamptz NOT NULL,
  serial_number            bytea,
  authority_key_identifier bytea
);
CREATE INDEX IF NOT EXISTS mtlsctl_nonces_seen_at ON mtlsctl_nonces (seen_at);
CREATE TABLE IF NOT EXISTS mtlsctl_crl_numbers (
  authority_key_identifier bytea PRIMARY KEY,
  crl_number               numeric NOT NULL
);`},
}

// gooseTable is goose's version table as cfssl's migrations tool
// (bitbucket.org/liamstask/goose, PostgreSQL dialect) creates it.
const gooseTable = `
CREATE TABLE IF NOT EXISTS goose_db_version (
  id         serial NOT NULL,
  version_id bigint NOT NULL,
  is_applied boolean NOT NULL,
  tstamp     timestamp NULL DEFAULT now(),
  PRIMARY KEY(id)
);`

// advisoryKey serialises schema changes between processes ("mtls").
const advisoryKey = 0x6d746c73

// Migrate brings the database to this build's schema, in one transaction:
// applied steps are skipped, and a database newer than this build is
// refused rather than written to. It returns the steps it applied.
func Migrate(ctx context.Context, db *sql.DB) ([]string, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, advisoryKey); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, gooseTable); err != nil {
		return nil, fmt.Errorf("goose_db_version: %w", err)
	}
	applied := map[int64]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version_id, is_applied FROM goose_db_version ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var newest int64
	for rows.Next() {
		var v int64
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			rows.Close()
			return nil, err
		}
		applied[v] = ok // goose's latest row for a version wins
		if ok && v > newest {
			newest = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if newest > schemaVersion {
		return nil, fmt.Errorf("the database's schema is version %d, newer than this mtlsctl's %d: use a newer mtlsctl", newest, schemaVersion)
	}
	if len(applied) == 0 {
		// goose's first row, as goose writes it on an empty table.
		if _, err := tx.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true)`); err != nil {
			return nil, err
		}
	}
	var done []string
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return nil, fmt.Errorf("schema step %d (%s): %w", m.version, m.what, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO goose_db_version (version_id, is_applied) VALUES ($1, true)`, m.version); err != nil {
			return nil, err
		}
		done = append(done, fmt.Sprintf("%d %s", m.version, m.what))
	}
	return done, tx.Commit()
}

// CheckSchema refuses a database this build cannot serve from: no schema
// (run 'signer init'), or an older or newer one.
func CheckSchema(ctx context.Context, db *sql.DB) error {
	var newest sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT max(version_id) FROM goose_db_version WHERE is_applied`).Scan(&newest)
	switch {
	case err != nil && strings.Contains(err.Error(), "goose_db_version"):
		return fmt.Errorf("%s", pkix.Textf("the database has no signer schema: run '%s' with this %s first", pkix.ActMakeSigner, pkix.OptDB))
	case err != nil:
		return err
	case !newest.Valid || newest.Int64 < schemaVersion:
		return fmt.Errorf("%s", pkix.Textf("the database's schema is version %d, older than this mtlsctl's %d: run '%s' with this %s", newest.Int64, schemaVersion, pkix.ActMakeSigner, pkix.OptDB))
	case newest.Int64 > schemaVersion:
		return fmt.Errorf("the database's schema is version %d, newer than this mtlsctl's %d: use a newer mtlsctl", newest.Int64, schemaVersion)
	}
	return nil
}
