// Package pkidir is the PKI directory as one type, Dir: what it holds (a
// dirview.View), how it changes (dirtx), the revocation operations
// (revocation.Ops), and here the operations that issue (ca init, client
// issue, sign, renew, export) and the directory's check, each a
// transaction that survives a crash or a signal. Package commands calls
// it; it never prints, parses flags or picks exit codes.
//
// How a transaction keeps its promises (see pkix/dirtx/journal.go): every output is
// first written to a temporary name and made durable; then a journal of
// intent (the inventory lines to append, the renames to do) is written
// and synced; then the inventory lines are appended, and only then do the
// files take their names; then the journal is removed. A crash before the
// journal leaves only temporary files, which the next command removes; a
// crash after it is finished by the next command that takes the lock. So
// a certificate never has its final name without being in the inventory.
package pkidir
