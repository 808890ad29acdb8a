package cfsslconf

import (
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"strings"
	"testing"
)

func TestCheckRequestHost(t *testing.T) {
	for h, want := range map[string]string{
		"device.example.com":                     "",
		"*.fleet.example.com":                    "",
		"localhost":                              "",
		"10.0.0.1":                               "",
		"2001:db8::1":                            "",
		"ops@example.com":                        "",
		"Ops Team <ops@example.com>":             "",
		"spiffe://example.org/device":            "",
		"a\nb.example.com":                       `"a\nb.example.com" is not a valid DNS name: it contains a control character (\n)`,
		"a\x00b":                                 `control character (\x00)`,
		"esc\x1b[0m.example.com":                 `control character (\x1b)`,
		"rtl\u202e.example.com":                  `is not a valid DNS name: it is not ASCII`,
		"ops@exa\x7fmple.com":                    `is not a valid email address: it contains a control character (\x7f)`,
		"spiffe://x/\x1b":                        `is not a valid URI: it contains a control character`,
		"bücher.example":                         `punycode`,
		"a..b":                                   `empty label`,
		"-a.example.com":                         `starts or ends with '-'`,
		"a.*.example.com":                        `wildcard must be the whole leftmost label`,
		"under_score.example.com":                `invalid character _`,
		"trailing.example.com.":                  `ends with a dot`,
		strings.Repeat("a", 64) + ".example.com": `longer than 63`,
		"ops@bad_domain.example":                 `is not a valid email address: its domain`,
		"bad\xff.example.com":                    `invalid UTF-8`,
	} {
		err := access.CheckRequestHost(h)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v, want accepted", h, err.Msg)
		case want != "" && err == nil:
			t.Errorf("%q: accepted, want %q", h, want)
		case want != "" && !strings.Contains(err.Msg, want):
			t.Errorf("%q: %q, want it to say %q", h, err.Msg, want)
		}
	}
}

// The request file's error names the file, the line and the entry.
func TestLoadRequestRefusesControlCharactersInHosts(t *testing.T) {
	_, err := LoadRequest("dev.json", []byte("{\"CN\": \"dev\",\n \"hosts\": [\"\", \"ok.example.com\", \"a\\u001bb.example.com\"]}"), ClientRequest)
	if err == nil || err.Error() != `dev.json:2:2: hosts[2]: "a\x1bb.example.com" is not a valid DNS name: it contains a control character (\x1b)` {
		t.Errorf("got %v", err)
	}
}
