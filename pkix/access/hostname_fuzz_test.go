package access

import (
	"testing"
)

func FuzzCheckHostname(f *testing.F) {
	for _, s := range []string{"auth.example.com", "https://x.y/z", "*.a.b", "bücher.example", "a..b", "x:443", "-a.b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		c := CheckHostname(h)
		if c.Status == Pass {
			// An accepted name, in its ASCII form, is accepted again as is.
			ascii := HostnameOf(c)
			if again := CheckHostname(ascii); again.Status != Pass || HostnameOf(again) != ascii {
				t.Fatalf("%q accepted as %q, which then gives %+v", h, ascii, again)
			}
		}
	})
}
