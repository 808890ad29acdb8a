package cfsslconf

import (
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"strings"
	"testing"
)

func TestLoadSigningConfigGuideFile(t *testing.T) {
	guide := `{"signing": {"default": {"expiry": "8760h"},"profiles": {"server": {"usages": ["signing", "key encipherment", "server auth"],"expiry": "8760h"},"client": {"usages": ["signing", "key encipherment", "client auth"],"expiry": "8760h"}}}}`
	sc, err := LoadSigningConfig("ca-config.json", []byte(guide))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sc.ProfileNames(), ","); got != "client,server" {
		t.Errorf("profiles %q", got)
	}
	if len(sc.Warnings) != 1 || !strings.Contains(sc.Warnings[0], `"key encipherment" with "client auth"`) {
		t.Errorf("warnings %q", sc.Warnings)
	}
}

func TestInputErrorsNamePlace(t *testing.T) {
	cases := []struct {
		name, data, want string
		load             func(string, []byte) error
	}{
		{"syntax", "{\n  \"CN\": \"x\"\n  \"key\": {}\n}", "f.json:3:3: invalid JSON: unexpected '\"' after object key:value pair", loadCA},
		{"unknown usage", `{"signing": {"profiles": {"client": {"usages": ["client auth", "bogus"], "expiry": "1h"}}}}`, `f.json:1:64: signing.profiles.client.usages: unknown usage "bogus"`, loadCfg},
		{"expiry days", `{"signing": {"profiles": {"client": {"usages": ["client auth"], "expiry": "30d"}}}}`, `signing.profiles.client.expiry: "30d" is not a positive duration`, loadCfg},
		{"negative expiry", `{"signing": {"profiles": {"client": {"usages": ["client auth"], "expiry": "-1h"}}}}`, `"-1h" is not a positive duration`, loadCfg},
		{"no expiry", `{"signing": {"profiles": {"client": {"usages": ["client auth"]}}}}`, `signing.profiles.client: no "expiry"`, loadCfg},
		{"null profile", `{"signing": {"profiles": {"client": null}}}`, `signing.profiles.client: profile is null`, loadCfg},
		{"remote", `{"signing": {"profiles": {"client": {"usages": ["client auth"], "expiry": "1h", "remote": "x"}}}}`, `remote signers are not supported`, loadCfg},
		{"trailing", `{"CN": "x"} {}`, `unexpected data after the JSON object`, loadCA},
		{"ecdsa curve", `{"CN": "x", "key": {"algo": "ecdsa", "size": 255}}`, `key: ecdsa key size 255 is not a supported curve`, loadCA},
		{"negative pathlen", `{"CN": "x", "ca": {"pathlen": -1}}`, `ca.pathlen: path length must not be negative`, loadCA},
		{"client ca", `{"CN": "x", "ca": {}}`, `ca: a client request must not have a "ca" section`, loadClient},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load("f.json", []byte(tc.data))
			if err == nil {
				t.Fatal("accepted")
			}
			var pe *pkix.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%T is not *Error: %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), `"code"`) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one clean line: %q", err)
			}
		})
	}
}

func TestPathLenZeroTrapIsNoted(t *testing.T) {
	r, err := LoadRequest("ca-csr.json", []byte(`{"CN": "x", "ca": {"pathlen": 0}}`), CARequest)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Notes) < 1 || !strings.Contains(strings.Join(r.Notes, "\n"), `"pathlenzero": true`) {
		t.Errorf("notes %q", r.Notes)
	}
	r, _ = LoadRequest("ca-csr.json", []byte(`{"CN": "x", "key": {"algo": "ecdsa", "size": 256}, "ca": {"pathlen": 0, "pathlenzero": true}}`), CARequest)
	if len(r.Notes) != 0 {
		t.Errorf("unexpected notes %q", r.Notes)
	}
}

func TestParseKeyType(t *testing.T) {
	for _, ok := range []string{"rsa-2048", "RSA-4096", "ecdsa-256", "ecdsa-384", "ecdsa-521", "ed25519"} {
		if _, err := ParseKeyType(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "rsa", "rsa-1024", "rsa-x", "ecdsa-224", "ed25519-1", "dsa-2048"} {
		if _, err := ParseKeyType(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestClosest(t *testing.T) {
	for in, want := range map[string]string{"clinet": "client", "Client": "client", "sever": "server", "xyz": ""} {
		if got := x509text.Closest(in, []string{"client", "server"}); got != want {
			t.Errorf("Closest(%q) = %q, want %q", in, got, want)
		}
	}
}

func loadCA(f string, d []byte) error     { _, err := LoadRequest(f, d, CARequest); return err }
func loadClient(f string, d []byte) error { _, err := LoadRequest(f, d, ClientRequest); return err }
func loadCfg(f string, d []byte) error    { _, err := LoadSigningConfig(f, d); return err }

// The JSON loaders are parsers of user input: whatever they are fed, they
// must not panic, and every refusal must be a placed *Error.
func FuzzLoadRequest(f *testing.F) {
	f.Add([]byte(DefaultCARequestJSON))
	f.Add([]byte(`{"CN": "James Royal","hosts": [""],"key": {"algo": "rsa","size": 4096}}`))
	f.Add([]byte(`{"CN": "x", "ca": {"pathlen": 0, "expiry": "1h"}}`))
	f.Add([]byte(`{"CN": `))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, kind := range []RequestKind{CARequest, ClientRequest} {
			if _, err := LoadRequest("f.json", data, kind); err != nil {
				var pe *pkix.Error
				if !errors.As(err, &pe) {
					t.Fatalf("%T: %v", err, err)
				}
			}
		}
	})
}

func FuzzLoadSigningConfig(f *testing.F) {
	f.Add([]byte(DefaultConfigJSON))
	f.Add([]byte(`{"signing": {"profiles": {"client": {"usages": ["client auth"], "expiry": "1h"}}}}`))
	f.Add([]byte(`{"signing": {"profiles": {"client": null}}}`))
	f.Add([]byte(`{"signing": {"default": {"expiry": "x"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := LoadSigningConfig("f.json", data); err != nil {
			var pe *pkix.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%T: %v", err, err)
			}
		}
	})
}

// A CN must print as what it is: control characters, invisible
// formatting characters (a right-to-left override makes "ci-\u202eadmin"
// show as "ci-nimda") and spaces other than ' ' are refused.
func TestCheckCN(t *testing.T) {
	for cn, ok := range map[string]bool{
		"device-7": true, "James Royal": true, "Zoë": true, "ci-": true,
		"ci-\u202eadmin": false, "ci-\u200b": false, "ci-\u00a0x": false, "a\tb": false, "a\x1bb": false,
		"  ": false, strings.Repeat("x", 65): false, "ci-x ": false, " ci-x": false,
	} {
		if err := CheckCN(cn); (err == nil) != ok {
			t.Errorf("CheckCN(%q) = %v", cn, err)
		}
	}
}
