// Package inventory is the directory's record of every certificate issued:
// the tab-separated format, matching by name or serial, revocation marks
// and the expiry report built from it.
package inventory
