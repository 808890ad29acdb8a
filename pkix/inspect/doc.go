// Package inspect says what a PEM, DER or PKCS#12 file holds:
// certificates, requests, keys and CRLs, with the fields Access would see.
package inspect
