package pkidir

import (
	"context"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
)

// RenewOutcome is what RenewAndRevokeOld did: what an earlier renewal left
// to revoke, each certificate renewed or failed, and the old ones revoked.
type RenewOutcome struct {
	*RenewResult
	// Finished is what an earlier renewal with RevokeOld left pending and
	// this run revoked first; nil when nothing was pending.
	Finished *revocation.RevokeResult
	// Revoked is the revocation of the certificates this run replaced,
	// nil when RevokeOld was not asked, nothing was renewed, or it failed.
	Revoked *revocation.RevokeResult
	// RevokeErr is why revoking the replaced certificates failed (or that
	// a signal came first): the renewals are recorded, and so is the
	// intent to revoke, which 'check' names and the next renewal finishes.
	RevokeErr error
}

// RenewAndRevokeOld finishes what an earlier renewal left to revoke, then
// renews what req picks and, with req.RevokeOld, revokes the certificates
// it replaced. On an error no certificate was renewed.
func (d *Dir) RenewAndRevokeOld(ctx context.Context, req *RenewRequest) (*RenewOutcome, error) {
	// An earlier renewal that did not get to its revocation (a crash, a
	// failure) recorded it: finish it first.
	finished, err := d.FinishRevocations(ctx, req.NextUpdate)
	if err != nil {
		return nil, err
	}
	res, err := d.Renew(ctx, req)
	if err != nil {
		return nil, err
	}
	out := &RenewOutcome{RenewResult: res, Finished: finished}
	if req.RevokeOld && len(res.Superseded) > 0 {
		if rv, err := d.RevokeRenewed(ctx, res, req.NextUpdate); err != nil {
			out.RevokeErr = err
		} else {
			out.Revoked = rv
		}
	}
	return out, nil
}

// revokePendingFile is the intent a renewal with RevokeOld commits.
func (d *Dir) revokePendingFile(j Job) atomicfile.File {
	return atomicfile.File{Path: d.File(j.Name + revocation.RevokePendingSuffix), Data: []byte(j.Replaces + "\n"), Mode: atomicfile.ModePublic,
		Kind: "revocation of the old certificate, until done"}
}

// RevokeRenewed revokes the certificates a renewal replaced (reason
// superseded, CRLs rebuilt) in one transaction, and removes the intent
// files. After a signal it starts nothing: the intent stays recorded.
func (d *Dir) RevokeRenewed(ctx context.Context, out *RenewResult, nextUpdate time.Duration) (*revocation.RevokeResult, error) {
	dirtx.CrashPoint("renewed")
	dirtx.SignalPoint(ctx, "renewed")
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rr := &revocation.RevokeRequest{Reason: crl.ReasonSuperseded, CRL: true, NextUpdate: nextUpdate}
	for _, old := range out.Superseded {
		rr.Serials = append(rr.Serials, old.Serial)
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
