package pkidir

import "context"

// RenewOutcome is what RenewAndRevokeOld did: what an earlier renewal left
// to revoke, each certificate renewed or failed, and the old ones revoked.
type RenewOutcome struct {
	*RenewResult
	// Finished is what an earlier renewal with RevokeOld left pending and
	// this run revoked first; nil when nothing was pending.
	Finished *RevokeResult
	// Revoked is the revocation of the certificates this run replaced,
	// nil when RevokeOld was not asked, nothing was renewed, or it failed.
	Revoked *RevokeResult
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
