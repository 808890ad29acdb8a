// Package pkix holds what every core package shares: the error that
// names a file, a line or a field, says what to do in words, and carries
// a typed reason that the CLI turns into flags and verbs. The work itself
// is in its subpackages, one concern each (docs/design.md has the map).
package pkix
