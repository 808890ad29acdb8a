package cloudflare

import (
	"cmp"
	"slices"
	"strings"
)

// The orders a certificate list can be shown in. By name is the default:
// IDs are random, so an ID order is no order a reader can use.
const (
	SortByName   = "name"
	SortByExpiry = "expiry"
)

// SortKeys are the valid orders, the default first.
var SortKeys = []string{SortByName, SortByExpiry}

// SortCertificates orders certs by name (case-insensitive, then exactly),
// or by expiry, soonest first, then by name; the ID breaks any tie, so the
// order never depends on the API's.
func SortCertificates(certs []Certificate, by string) {
	byName := func(a, b Certificate) int {
		return cmp.Or(
			cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)),
			cmp.Compare(a.Name, b.Name),
			cmp.Compare(a.ID, b.ID))
	}
	slices.SortStableFunc(certs, func(a, b Certificate) int {
		if by == SortByExpiry {
			if c := a.ExpiresOn.Compare(b.ExpiresOn); c != 0 {
				return c
			}
		}
		return byName(a, b)
	})
}
