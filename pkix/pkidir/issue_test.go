package pkidir

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
)

// newRoot makes a root CA in d (ECDSA: fast).
func newRoot(t *testing.T, d *Dir) *cfsslconf.SigningConfig {
	t.Helper()
	req, err := cfsslconf.LoadRequest("ca-csr.json", []byte(cfsslconf.DefaultCARequestJSON), cfsslconf.CARequest)
	if err != nil {
		t.Fatal(err)
	}
	kr, err := cfsslconf.ParseKeyType("ecdsa-256")
	if err != nil {
		t.Fatal(err)
	}
	req.CR.KeyRequest = kr
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(cfsslconf.DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	ca, _, err := ca.InitCA(req, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := d.InitRoot(context.Background(), ca, nil, true); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A batch signed by a root that another job replaced meanwhile (ca init
// --force) is not recorded under the new root's name.
func TestIssueRefusesReplacedCA(t *testing.T) {
	d := testDir(t)
	cfg := newRoot(t, d)
	signer, err := d.LoadSigner("", dirview.CAInput{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	newRoot(t, d) // the other job
	before, _ := os.ReadFile(d.Inventory())
	jobs, err := PlanBatch(cfsslconf.DefaultRequest("x", cfsslconf.ClientRequest), []string{"dev-1", "dev-2"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Issue(context.Background(), &IssueRequest{Kind: inventory.KindClient, Jobs: jobs, Signer: signer, Profile: cfsslconf.ClientProfile, CertKind: "client certificate"})
	if err == nil || !strings.Contains(err.Error(), "changed while this command ran") {
		t.Fatalf("err = %v", err)
	}
	after, _ := os.ReadFile(d.Inventory())
	if string(after) != string(before) {
		t.Error("the inventory changed")
	}
	if _, err := os.Stat(d.File("dev-1.pem")); err == nil {
		t.Error("dev-1.pem was written")
	}
}

// crl build compacts an inventory grown by appended changes (a quarter of
// its lines and at least 1,000) to one line per serial, keeping each
// serial's latest state.
func TestCRLBuildCompactsInventory(t *testing.T) {
	d := testDir(t)
	newRoot(t, d)
	data, _ := os.ReadFile(d.Inventory())
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	root := lines[len(lines)-1]
	f, _ := os.OpenFile(d.Inventory(), os.O_APPEND|os.O_WRONLY, 0)
	for range 1500 {
		f.WriteString(root + "\n") // the same state, appended again and again
	}
	f.Close()
	serials := d.File("serials.txt")
	os.WriteFile(serials, nil, 0o644)
	if _, err := d.BuildCRL(context.Background(), &revocation.CRLRequest{SerialsFile: serials, NextUpdate: time.Hour}); err != nil {
		t.Fatal(err)
	}
	inv, err := d.ReadInventory()
	if err != nil {
		t.Fatal(err)
	}
	if inv.Lines != 1 || len(inv.Records) != 1 || inv.Records[0].Kind != inventory.KindRoot {
		t.Errorf("after crl build: %d lines, %d records", inv.Lines, len(inv.Records))
	}
}
