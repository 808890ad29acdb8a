// Package cfsslconf reads cfssl's JSON inputs (ca-csr.json, ca-config.json
// and client requests) strictly, with the line and field of every mistake,
// and holds the built-in defaults and the duration syntax they use.
package cfsslconf
