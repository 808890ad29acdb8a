// Package ca issues certificates through cfssl's local signer: roots,
// intermediates, client certificates in batches, and device requests
// signed without their keys.
package ca
