// Package access holds Cloudflare Access's rules for an uploaded CA and for
// hostnames, and the tlsClientAuth fields Access shows for a client
// certificate.
package access
