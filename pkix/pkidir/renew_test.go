package pkidir

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// issueClients issues a client certificate for each CN in d.
func issueClients(t *testing.T, d *Dir, cfg *cfsslconf.SigningConfig, cns ...string) {
	t.Helper()
	signer, err := d.LoadSigner("", dirview.CAInput{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := cfsslconf.DefaultRequest("x", cfsslconf.ClientRequest)
	kr, _ := cfsslconf.ParseKeyType("ecdsa-256")
	req.CR.KeyRequest = kr
	jobs, err := PlanBatch(req, cns)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Issue(context.Background(), &IssueRequest{Kind: inventory.KindClient, Jobs: jobs, Signer: signer, Profile: cfsslconf.ClientProfile, CertKind: "client certificate"})
	if err != nil || len(res.Failed) > 0 {
		t.Fatalf("issue: %v %+v", err, res)
	}
}

func validRecords(t *testing.T, d *Dir) map[string][]inventory.Record {
	t.Helper()
	inv, err := d.ReadInventory()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]inventory.Record{}
	for _, r := range inv.Records {
		if r.Kind == inventory.KindClient && r.Status == inventory.StatusValid {
			m[r.Name] = append(m[r.Name], r)
		}
	}
	return m
}

// A renewal worked out before another run renewed the same certificate
// is dropped under the lock: the certificate is renewed once, not twice.
func TestStaleRenewalIsDropped(t *testing.T) {
	d := testDir(t)
	cfg := newRoot(t, d)
	issueClients(t, d, cfg, "dev-1", "dev-2")
	req := &RenewRequest{Names: []string{"dev-1", "dev-2"}, Config: cfg}
	due, err := d.dueForRenewal(req)
	if err != nil || len(due) != 2 {
		t.Fatalf("due %v %v", due, err)
	}
	var stale []Job
	for _, r := range due {
		j, err := d.renewalJob(r, req)
		if err != nil {
			t.Fatal(err)
		}
		stale = append(stale, j)
	}
	// The other run renews dev-1 first.
	if res, err := d.Renew(context.Background(), &RenewRequest{Names: []string{"dev-1"}, Config: cfg}); err != nil || len(res.Issued) != 1 {
		t.Fatalf("other run: %v %+v", err, res)
	}
	afterOther := validRecords(t, d)
	signer, err := d.LoadSigner("", dirview.CAInput{}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := d.Issue(context.Background(), &IssueRequest{Kind: inventory.KindClient, Jobs: stale, Signer: signer, Profile: cfsslconf.ClientProfile, CertKind: "client certificate (renewed)", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, is := range res.Issued {
		names = append(names, is.Name)
	}
	if len(names) != 1 || names[0] != "dev-2" {
		t.Fatalf("issued %v, want dev-2 only", names)
	}
	if len(res.Failed) != 1 || res.Failed[0].Name != "dev-1" || !strings.Contains(res.Failed[0].Error, "another run renewed or revoked it") {
		t.Fatalf("failed %+v", res.Failed)
	}
	after := validRecords(t, d)
	if len(after["dev-1"]) != 1 || after["dev-1"][0].Serial != afterOther["dev-1"][0].Serial {
		t.Errorf("dev-1 after the stale renewal: %+v, want the other run's %s", after["dev-1"], afterOther["dev-1"][0].Serial)
	}
	data, _ := os.ReadFile(d.Leaf("dev-1").Cert)
	if c, err := pemutil.ParseCertificatePEM("dev-1.pem", data); err != nil || x509text.SerialHex(c.SerialNumber) != afterOther["dev-1"][0].Serial {
		t.Errorf("dev-1.pem is not the other run's certificate")
	}
}

// Two renewals of everything due, at once: each certificate is renewed
// exactly once, whichever run gets it.
func TestConcurrentRenewalsRenewOnce(t *testing.T) {
	d := testDir(t)
	cfg := newRoot(t, d)
	cns := []string{"dev-1", "dev-2", "dev-3", "dev-4", "dev-5", "dev-6"}
	issueClients(t, d, cfg, cns...)
	var wg sync.WaitGroup
	issued := make([]int, 2)
	for k := range issued {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// By name: with --expiring, a window longer than the profile's
			// lifetime is refused (the renewal would be due again at once).
			res, err := d.Renew(context.Background(), &RenewRequest{Names: cns, Config: cfg})
			if err != nil {
				t.Error(err)
				return
			}
			issued[k] = len(res.Issued)
		}()
	}
	wg.Wait()
	if issued[0]+issued[1] != len(cns) {
		t.Errorf("the two runs renewed %d and %d certificates, want %d in all", issued[0], issued[1], len(cns))
	}
	inv, err := d.ReadInventory()
	if err != nil {
		t.Fatal(err)
	}
	superseded := 0
	for _, r := range inv.Records {
		if r.Status == inventory.StatusSuperseded && r.Kind == inventory.KindClient {
			superseded++
		}
	}
	if superseded != len(cns) {
		t.Errorf("%d superseded records, want %d", superseded, len(cns))
	}
	for _, cn := range cns {
		if n := len(validRecords(t, d)[cn]); n != 1 {
			t.Errorf("%s has %d valid records", cn, n)
		}
	}
}

// A window longer than what a renewal grants would renew on every run:
// refused, with the reason, and nothing is renewed.
func TestRenewDueAgainAtOnceRefused(t *testing.T) {
	d := testDir(t)
	cfg := newRoot(t, d)
	issueClients(t, d, cfg, "dev-1")
	res, err := d.Renew(context.Background(), &RenewRequest{Expiring: 400 * 24 * time.Hour, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Issued) != 0 || len(res.Failed) != 1 || !errors.Is(res.Failed[0].err, ErrDueAgain) {
		t.Fatalf("issued %d, failed %+v; want dev-1 refused as due again at once", len(res.Issued), res.Failed)
	}
	if !strings.Contains(res.Failed[0].Error, "renewal window (400d)") {
		t.Errorf("the reason does not name the window: %s", res.Failed[0].Error)
	}
}
