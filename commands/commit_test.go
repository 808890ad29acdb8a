package commands

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// A batch where one certificate cannot be placed (its name was taken after
// the checks, by another process): the others are written whole and
// recorded, the failed one leaves no file and no record.
func TestCommitIssuedPartial(t *testing.T) {
	dir := t.TempDir()
	set := func(name string) []pkix.File {
		return []pkix.File{
			{Path: filepath.Join(dir, name+".pem"), Data: []byte("cert " + name), Mode: pkix.ModePublic},
			{Path: filepath.Join(dir, name+"-key.pem"), Data: []byte("key " + name), Mode: pkix.ModeSecret},
		}
	}
	record := func(serial, name string) pkix.Record {
		return pkix.Record{Serial: serial, Status: "valid", Kind: "client", CN: name, Name: name, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	}
	staged := []*pkix.Staged{pkix.Stage(set("a"), false), pkix.Stage(set("b"), false), pkix.Stage(set("c"), false)}
	// b's key name is taken between the checks and the commit.
	if err := os.WriteFile(filepath.Join(dir, "b-key.pem"), []byte("someone else's"), 0o600); err != nil {
		t.Fatal(err)
	}
	written, errs, err := commitIssued(dir, staged, []pkix.Record{record("0A", "a"), record("0B", "b"), record("0C", "c")}, false)
	if err != nil {
		t.Fatal(err)
	}
	if errs[0] != nil || errs[2] != nil || errs[1] == nil {
		t.Fatalf("errs = %v, want only b to fail", errs)
	}
	if len(written[0]) != 2 || len(written[2]) != 2 {
		t.Errorf("a and c should be written whole: %v", written)
	}
	if _, err := os.Stat(filepath.Join(dir, "b.pem")); err == nil {
		t.Error("b.pem was left behind by the failed set")
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "b-key.pem")); string(data) != "someone else's" {
		t.Errorf("the existing b-key.pem was changed to %q", data)
	}
	inv, err := pkix.ReadInventory(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Records) != 2 || !inv.Has("0A") || !inv.Has("0C") || inv.Has("0B") {
		t.Errorf("inventory %+v, want a and c only", inv.Records)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
