package revocation

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// A renewal with --revoke-old is two transactions: the renewal, then the
// revocation of the old certificates with the CRL rebuild. So that a crash
// or a failure between them never leaves an old certificate valid without
// a trace, the renewal's own transaction writes NAME.revoke-pending beside
// the new certificate, holding the old serial. Until the inventory records
// that serial revoked, the revocation is pending: 'check' names it (exit
// 1) and the next renewal finishes it. A file whose serial is revoked is
// done with, and removed.

const RevokePendingSuffix = ".revoke-pending"

// PendingRevocation is an old certificate a renewal said to revoke, not
// revoked yet.
type PendingRevocation struct {
	File   string
	Serial string
	CN     string
}

// Message says what is pending and how to finish it. The commands it
// names get the --dir the user gave where they are printed (commands'
// hintflags.go), quoted for the shell.
func (p PendingRevocation) Message() string {
	return pkix.Textf("%s: serial %s (CN %q) was renewed with %s and is not revoked yet: revoke it with '%s' (the next renewal run also finishes it)",
		p.File, p.Serial, p.CN, pkix.OptRevokeOld, pkix.Cmd(pkix.ActRevokeClient, pkix.OptSerial.With(p.Serial), pkix.OptReason.With("superseded"), pkix.OptCRL)).String()
}

// PendingRevocations lists the revocations renewals recorded and did not
// finish; files whose serial is revoked are left for ClearRevocations.
func (d *Ops) PendingRevocations() ([]PendingRevocation, error) {
	files, err := filepath.Glob(filepath.Join(globEscape(d.Path()), "*"+RevokePendingSuffix))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []PendingRevocation
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, d.IOError(f, "cannot read", err)
		}
		serial := strings.TrimSpace(string(data))
		r, err := d.FindSerial(serial)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, &pkix.Error{File: f, Msg: fmt.Sprintf("names serial %q, which the inventory does not record", serial),
				Hint: "restore the inventory from git; remove this file only if that certificate is revoked"}
		}
		if r.Status != inventory.StatusRevoked {
			out = append(out, PendingRevocation{File: f, Serial: serial, CN: r.CN})
		}
	}
	return out, nil
}

// ClearRevocations removes the intent files whose serial is now revoked.
func (d *Ops) ClearRevocations() error {
	files, err := filepath.Glob(filepath.Join(globEscape(d.Path()), "*"+RevokePendingSuffix))
	if err != nil {
		return err
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if r, err := d.FindSerial(strings.TrimSpace(string(data))); err == nil && r != nil && r.Status == inventory.StatusRevoked {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return d.IOError(f, "cannot remove", err)
			}
		}
	}
	return nil
}

// FinishRevocations revokes (reason superseded, CRLs rebuilt) what
// renewals left pending, in one transaction, and removes their files.
func (d *Ops) FinishRevocations(ctx context.Context, nextUpdate time.Duration) (*RevokeResult, error) {
	pend, err := d.PendingRevocations()
	if err != nil || len(pend) == 0 {
		return nil, err
	}
	rr := &RevokeRequest{Reason: crl.ReasonSuperseded, CRL: true, NextUpdate: nextUpdate}
	for _, p := range pend {
		rr.Serials = append(rr.Serials, p.Serial)
	}
	res, err := d.Revoke(ctx, rr)
	if err != nil {
		return nil, err
	}
	// Done: a file left behind (this removal failing) names a revoked
	// serial, which counts as done everywhere.
	_ = d.ClearRevocations()
	return res, nil
}

// globEscape keeps a directory name with glob characters literal.
func globEscape(p string) string {
	r := strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`)
	return r.Replace(p)
}

// SupersededStillValid are the certificates renewals replaced that have
// not expired and are not revoked: by design (a device that has not yet
// picked up its new certificate still gets in), but each is one more
// certificate that works, so 'check' lists them.
func SupersededStillValid(inv *inventory.Inventory, now time.Time) []inventory.Record {
	var out []inventory.Record
	for _, r := range inv.Records {
		if r.Kind == inventory.KindClient && r.Status == inventory.StatusSuperseded && r.NotAfter.After(now) {
			out = append(out, r)
		}
	}
	return out
}
