// Package accesssim is the Access emulator behind `mtlsctl serve`: the
// policy Access applies to a client certificate, the handshake decisions,
// and the coverage of each issuing CA by a CRL.
package accesssim
