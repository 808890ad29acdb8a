package pkidir

import (
	"context"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
)

// What expires wins over every other problem, a refused CRL over nothing
// but an unfinished change, and a note never fails a check.
func TestCheckVerdictOrder(t *testing.T) {
	rep := &CheckReport{Findings: []Finding{
		{Kind: FindingPending}, {Kind: FindingCRLRefused}, {Kind: FindingCRLBehind}, {Kind: FindingCRLBehind},
		{Kind: FindingRetired, Severity: SeverityNote}, {Kind: FindingSuperseded, Severity: SeverityNote},
	}}
	if k, n := rep.Verdict(); k != FindingCRLBehind || n != 2 {
		t.Errorf("verdict %v %d, want the two CRLs behind", k, n)
	}
	rep.Expiring = 3
	if k, n := rep.Verdict(); k != FindingExpiring || n != 3 {
		t.Errorf("verdict %v %d, want 3 expiring", k, n)
	}
	notes := &CheckReport{Findings: []Finding{{Kind: FindingRetired, Severity: SeverityNote}, {Kind: FindingCRLNote}}}
	if k, _ := notes.Verdict(); k != FindingNone {
		t.Errorf("notes alone: verdict %v, want none", k)
	}
}

// A directory's root is judged against the window: fine within 30 days,
// expiring within ten years.
func TestCheckDirectory(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newRoot(t, d)
	check := func(warn time.Duration) *CheckReport {
		rep, err := d.Check(CheckOptions{Now: time.Now(), Warn: warn, CRLWarn: 48 * time.Hour, Inventory: true})
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if k, _ := check(30 * 24 * time.Hour).Verdict(); k != FindingNone {
		t.Errorf("a new root: verdict %v, want none", k)
	}
	rep := check(10 * 365 * 24 * time.Hour)
	if k, n := rep.Verdict(); k != FindingExpiring || n != 1 || rep.Expiry.Problems != 1 {
		t.Errorf("ten years ahead: verdict %v %d (problems %d), want the root expiring", k, n, rep.Expiry.Problems)
	}
}

// CreateRoot refuses to replace a root without Force, and writes nothing.
func TestCreateRootRefusesReplacing(t *testing.T) {
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	req, err := cfsslconf.LoadRequest("ca-csr.json", []byte(cfsslconf.DefaultCARequestJSON), cfsslconf.CARequest)
	if err != nil {
		t.Fatal(err)
	}
	if req.CR.KeyRequest, err = cfsslconf.ParseKeyType("ecdsa-256"); err != nil {
		t.Fatal(err)
	}
	cfg, err := cfsslconf.LoadSigningConfig("ca-config.json", []byte(cfsslconf.DefaultConfigJSON))
	if err != nil {
		t.Fatal(err)
	}
	first, err := d.CreateRoot(context.Background(), RootRequest{Request: req, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateRoot(context.Background(), RootRequest{Request: req, Config: cfg}); err == nil {
		t.Fatal("a second root without Force was made")
	}
	cert, err := input.ReadInput(d.CA(dirview.RootName).Cert, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(cert) != string(first.CA.CertPEM) {
		t.Error("the refused root changed ca.pem")
	}
}
