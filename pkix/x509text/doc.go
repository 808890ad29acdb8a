// Package x509text prints certificates the way people compare them:
// distinguished names as OpenSSL and Access print them, OpenSSL's short
// names, signature algorithm names, serials, and untrusted text escaped
// before it reaches a terminal.
package x509text
