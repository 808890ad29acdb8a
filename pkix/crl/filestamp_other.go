//go:build !linux

package crl

import "os"

// changeOf: elsewhere only size and modification time tell a replaced
// file apart.
func changeOf(os.FileInfo) [3]int64 { return [3]int64{} }
