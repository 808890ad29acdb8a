// Package crl builds, reads and verifies certificate revocation lists as
// RFC 5280 says: a streaming encoder, a reader that never holds more than
// it must, serial lists in hex, and the CRL store that serve reloads.
package crl
