package pkix

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// Parsers of files a user (or a git merge) can change must never panic,
// and what they write they must read back the same.

func FuzzParseInventory(f *testing.F) {
	r := Record{Serial: "0A", Status: StatusValid, Kind: KindClient, CN: "tab\there\\back", NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0),
		Profile: "client", Issuer: "ca", SHA256: "ab", Name: "-", Subject: "CN=tab\\09here"}
	good := AppendInventoryLine(InventoryHeader(), &r)
	f.Add(good)
	r.Status, r.RevokedAt, r.Reason = StatusRevoked, time.Unix(5e8, 0), "keyCompromise"
	f.Add(AppendInventoryLine(good, &r)) // a change appended
	f.Add([]byte("# header\n0A\tvalid\n"))
	f.Add([]byte("0A\tvalid\tclient\tcn\tbad-date\t-\t-\t-\t-\t-\t-\t-\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("inventory.tsv", data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("%T: %v", err, err)
			}
			return
		}
		// What parses renders and parses back to the same rendering.
		again, err := ParseInventory("inventory.tsv", inv.Bytes())
		if err != nil {
			t.Fatalf("rendered inventory does not parse: %v", err)
		}
		if !bytes.Equal(again.Bytes(), inv.Bytes()) {
			t.Fatalf("round trip changed the inventory")
		}
	})
}

func FuzzDistinguishedNames(f *testing.F) {
	c, _ := makeCertForFuzz()
	f.Add(c)
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x05, 0x31, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, raw []byte) {
		DNRFC2253(raw) // must not panic
		DNLegacy(raw)
	})
}

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

func FuzzValidateUpload(f *testing.F) {
	c, _ := makeCertForFuzz()
	f.Add(OrderedPEM(nil))
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Add(c)
	f.Fuzz(func(t *testing.T, data []byte) {
		ValidateUpload("f.pem", data, ValidationOptions{Hostnames: []string{"a.example"}}) // must not panic
	})
}

// makeCertForFuzz returns a real certificate's raw subject for seeds.
func makeCertForFuzz() ([]byte, error) {
	req, err := LoadRequest("r.json", []byte(`{"CN": "Seed, Inc.", "names": [{"O": "Ünïcode", "OU": "a+b"}], "key": {"algo": "ecdsa", "size": 256}}`), CARequest)
	if err != nil {
		return nil, err
	}
	ca, _, err := InitCA(req, 0, nil)
	if err != nil {
		return nil, err
	}
	return ca.Cert.RawSubject, nil
}
