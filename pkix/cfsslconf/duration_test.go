package cfsslconf

import (
	"testing"
	"time"
)

// Durations come from flags and from the signer's admin endpoints: no
// panic, and what is accepted is positive and at most 100 years.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30d", "8760h", "0d", "-1h", "36501d", "9223372036854775807ns", " 7d ", "1.5h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && (d <= 0 || d > MaxDurationDays*24*time.Hour) {
			t.Fatalf("%q accepted as %v", s, d)
		}
	})
}
