// Package chain answers how certificates relate: who signed whom, which
// certificate is self-signed, whether two certificates are the same CA,
// and the chain from an issuer up to a root.
package chain
