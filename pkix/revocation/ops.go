package revocation

import "github.com/mtlsctl/mtlsctl/pkix/dirview"

// Ops are the operations on a directory that revoke and publish: revoke,
// CRLs, the revocation set the edge enforces, retired keys.
type Ops struct {
	*dirview.View
}
