package inventory

import (
	"bytes"
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix"
	"testing"
	"time"
)

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
			var pe *pkix.Error
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

// ScanInventory (the allocation-free reader of the CRL cross-check and of
// revoke) must agree with ParseInventory: every file the parser accepts,
// the scanner reads, and a serial's last line gives its state.
func FuzzScanInventory(f *testing.F) {
	r := Record{Serial: "0A", Status: StatusValid, Kind: KindClient, CN: "dev", NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1e9, 0),
		Profile: "client", Issuer: "ca", SHA256: "ab", Name: "dev", Subject: "CN=dev"}
	good := AppendInventoryLine(InventoryHeader(), &r)
	f.Add(good)
	r.Status, r.Reason, r.RevokedAt = StatusRevoked, "keyCompromise", time.Unix(5e8, 0)
	f.Add(AppendInventoryLine(good, &r))
	f.Add([]byte("0A\tvalid\tclient\tcn\t-\t-\t-\tca\t-\t-\t-\t-\t-\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := ParseInventory("inventory.tsv", data)
		if err != nil {
			return
		}
		last := map[string]string{}
		if err := ScanInventory("inventory.tsv", data, func(l InventoryLine) {
			last[unescapeField(string(l.Serial))] = string(l.Status) + "/" + unescapeField(string(l.Issuer))
		}); err != nil {
			t.Fatalf("the parser accepts what the scanner refuses: %v", err)
		}
		for _, rec := range inv.Records {
			if got, want := last[rec.Serial], string(rec.Status)+"/"+rec.Issuer; got != want {
				t.Errorf("serial %q: scanner %q, parser %q", rec.Serial, got, want)
			}
		}
	})
}
