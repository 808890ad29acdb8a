package x509text

import "testing"

func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"James Royal":                "James Royal",
		`CN=a\,b,O=x`:                `CN=a\,b,O=x`,
		"Zoë Ünal 東京":                "Zoë Ünal 東京",
		"a\nb":                       `a\nb`,
		"evil\x1b[2J":                `evil\x1b[2J`,
		"nul\x00":                    `nul\x00`,
		"tab\there":                  `tab\there`,
		"rtl\u202eexe.pdf":           `rtl\u202eexe.pdf`,
		"bad\xffutf8":                `bad\xffutf8`,
		"del\x7f":                    `del\x7f`,
		"\u00a0nbsp":                 `\u00a0nbsp`,
		"replacement \uFFFD is fine": "replacement \uFFFD is fine",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}
