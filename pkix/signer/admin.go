package signer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"path"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// ErrNotFound is a serial the database does not hold for this CA.
var ErrNotFound = errors.New("no such certificate")

// Revoke marks the certificate with serial (hex, as mtlsctl shows it) of
// the CA with key identifier aki revoked, as cfssl's own revoke does
// (status revoked, the reason code, revoked_at). Revoking twice changes
// nothing and says so.
func (s *Store) Revoke(ctx context.Context, aki, serialHex string, reason crl.RevocationReason, at time.Time) (changed bool, err error) {
	dec, err := SerialDecimal(serialHex)
	if err != nil {
		return false, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE certificates SET status = 'revoked', reason = $1, revoked_at = $2
		WHERE serial_number = $3 AND authority_key_identifier = $4 AND status <> 'revoked'`, int(reason), at, []byte(dec), []byte(aki))
	if err != nil {
		return false, err
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, nil
	}
	var status []byte
	err = s.db.QueryRowContext(ctx, `SELECT status FROM certificates WHERE serial_number = $1 AND authority_key_identifier = $2`, []byte(dec), []byte(aki)).Scan(&status)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("serial %s: %w", serialHex, ErrNotFound)
	}
	return false, err
}

// Listed is one certificate as an admin sees it: serial in hex.
type Listed struct {
	Serial    string     `json:"serial"`
	CN        string     `json:"cn"`
	Status    string     `json:"status"` // valid or revoked, the words of the rest of mtlsctl (certdb says good for valid)
	Reason    string     `json:"reason,omitempty"`
	NotBefore *time.Time `json:"not_before,omitempty"`
	NotAfter  time.Time  `json:"not_after"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Runner    string     `json:"runner,omitempty"`
}

// ListFilter narrows a listing: a status (valid, revoked; certdb's good
// is taken for valid), a CN glob, and
// certificates expiring within a duration.
type ListFilter struct {
	Status   string
	CN       string
	Expiring time.Duration
}

// List is the CA's certificates in the database, oldest first.
func (s *Store) List(ctx context.Context, aki string, f ListFilter, now time.Time) ([]Listed, error) {
	if f.CN != "" {
		if _, err := path.Match(f.CN, ""); err != nil {
			return nil, fmt.Errorf("CN pattern %q: %v", f.CN, err)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT serial_number, coalesce(common_name, ''), status, coalesce(reason, 0), not_before, expiry, revoked_at,
		coalesce(metadata->>'mtlsctl_runner', '') FROM certificates WHERE authority_key_identifier = $1 ORDER BY issued_at NULLS FIRST, serial_number`, []byte(aki))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Listed{}
	for rows.Next() {
		var serial, status []byte
		var l Listed
		var reason int
		var notBefore, revokedAt sql.NullTime
		if err := rows.Scan(&serial, &l.CN, &status, &reason, &notBefore, &l.NotAfter, &revokedAt, &l.Runner); err != nil {
			return nil, err
		}
		if l.Serial, err = SerialHex(string(serial)); err != nil {
			return nil, err
		}
		l.Status = statusWord(string(status))
		if notBefore.Valid {
			l.NotBefore = &notBefore.Time
		}
		if l.Status == "revoked" {
			l.Reason = crl.RevocationReason(reason).String()
			if revokedAt.Valid {
				l.RevokedAt = &revokedAt.Time
			}
		}
		if f.Status != "" && l.Status != statusWord(f.Status) {
			continue
		}
		if f.CN != "" {
			if ok, _ := path.Match(f.CN, l.CN); !ok {
				continue
			}
		}
		if f.Expiring > 0 && (l.NotAfter.After(now.Add(f.Expiring)) || l.NotAfter.Before(now)) {
			continue
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// BuildCRL signs the CA's CRL from the database: every revoked
// certificate of the CA, with its reason and date. Its CRL Number is
// max(last published + 1, now in milliseconds), as local CRLs are
// numbered, kept in the database under a row lock so two signer
// processes never publish the same number or go backwards, and at
// least floor (a local ca.crl's number, so a switch from a local CRL
// never goes back either).
func (s *Store) BuildCRL(ctx context.Context, issuer *ca.Issuer, aki string, floor *big.Int, nextUpdate time.Duration, now time.Time) (*crl.CRL, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO mtlsctl_crl_numbers (authority_key_identifier, crl_number) VALUES ($1, 0) ON CONFLICT DO NOTHING`, []byte(aki)); err != nil {
		return nil, err
	}
	var last string
	if err := tx.QueryRowContext(ctx, `SELECT crl_number::text FROM mtlsctl_crl_numbers WHERE authority_key_identifier = $1 FOR UPDATE`, []byte(aki)).Scan(&last); err != nil {
		return nil, err
	}
	prev, ok := new(big.Int).SetString(last, 10)
	if !ok {
		return nil, fmt.Errorf("the stored CRL number %q is not a number", last)
	}
	if floor != nil && floor.Cmp(prev) > 0 {
		prev = floor
	}
	number := crl.NextCRLNumber(prev, now)
	rows, err := tx.QueryContext(ctx, `SELECT serial_number, coalesce(reason, 0), revoked_at FROM certificates
		WHERE authority_key_identifier = $1 AND status = 'revoked' ORDER BY serial_number`, []byte(aki))
	if err != nil {
		return nil, err
	}
	b := crl.NewCRLBuilder(0, now)
	for rows.Next() {
		var serial []byte
		var reason int
		var at sql.NullTime
		if err := rows.Scan(&serial, &reason, &at); err != nil {
			rows.Close()
			return nil, err
		}
		n, ok := new(big.Int).SetString(string(serial), 10)
		if !ok || n.Sign() <= 0 {
			rows.Close()
			return nil, fmt.Errorf("a revoked row's serial %q is not a positive decimal number", serial)
		}
		date := time.Time{}
		if at.Valid && at.Time.Year() > 1 {
			date = at.Time
		}
		b.Add(n.Bytes(), crl.RevocationReason(reason), date, 0)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	crl, err := b.Sign(crl.CRLParams{Issuer: issuer.Cert, Key: issuer.Key, Number: number, ThisUpdate: now, NextUpdate: now.Add(nextUpdate)})
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mtlsctl_crl_numbers SET crl_number = $1 WHERE authority_key_identifier = $2`, number.String(), []byte(aki)); err != nil {
		return nil, err
	}
	return crl, tx.Commit()
}

// statusWord is a certdb status in mtlsctl's words: cfssl's "good" is
// what the inventory, client list and check call valid, so one word
// shows wherever a certificate's state is printed.
func statusWord(certdb string) string {
	if certdb == "good" {
		return string(inventory.StatusValid)
	}
	return certdb
}
