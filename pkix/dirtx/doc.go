// Package dirtx is how a PKI directory changes: its lock, the journal that
// makes a change all-or-nothing across a crash, the staging directory, and
// the commit that writes every file and record of an operation. pkidir.Dir
// embeds its Store; the operations themselves are in pkidir.
package dirtx
