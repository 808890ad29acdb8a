//go:build opensslnames

package x509text

// The short names depend on the OpenSSL of the machine that runs the
// script, so this line is behind a build tag: plain `go generate ./...`
// (which rebuilds the CLI reference) leaves opensslnames.go alone.
//go:generate sh ../../examples/opensslnames.sh
