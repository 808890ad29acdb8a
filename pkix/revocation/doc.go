// Package revocation holds what a PKI directory does to revoke: client
// revoke, CRLs built and guarded, the revocation set the edge enforces,
// retired keys' CRLs, and the findings about revocations not in effect.
// pkidir.Dir embeds its Ops.
package revocation
