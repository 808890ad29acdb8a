// Package dirview is a PKI directory as it is read: its file names, its
// CAs and their keys, the inventory (read once and cached), retired keys
// and the checks that decide whether a CA may still sign. pkidir.Dir
// embeds its View.
package dirview
