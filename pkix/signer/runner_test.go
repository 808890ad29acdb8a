package signer

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

func runnerJobs(t *testing.T, d *pkidir.Dir, cns ...string) []RunnerJob {
	t.Helper()
	var jobs []RunnerJob
	for _, cn := range cns {
		req := cfsslconf.DefaultRequest(cn, cfsslconf.ClientRequest)
		req.CR.CN = cn
		req.CR.KeyRequest, _ = cfsslconf.ParseKeyType("ecdsa-256")
		jobs = append(jobs, RunnerJob{CN: cn, Name: cn, Req: req, Files: d.Leaf(cn)})
	}
	return jobs
}

// A signer that goes away mid-batch: what it signed is written whole,
// every other job fails (and, once the signer is seen gone, is not even
// sent), and no job leaves part of its files.
func TestRunnerBatchWhenTheSignerGoesAway(t *testing.T) {
	store := openStore(t)
	issuer := testIssuer(t, cfsslconf.DefaultConfigJSON)
	p := newTestPKI(t)
	srv := &Server{Service: &Service{Store: store, Issuer: issuer}, Open: []string{"client"}, HMACKey: testHMAC, ClientCAs: p.pool}
	if err := srv.Prepare(); err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64
	var ts *httptest.Server
	h := srv.Handler()
	ts = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if served.Add(1) > 5 {
			// The signer dies: this connection and every later one fail.
			hj, ok := w.(http.Hijacker)
			if ok {
				conn, _, _ := hj.Hijack()
				conn.Close()
			}
			return
		}
		h.ServeHTTP(w, r)
	}))
	ts.TLS = srv.TLSConfig(p.server)
	ts.StartTLS()
	defer ts.Close()

	runnerCert := p.leaf(t, "runner-1", &Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}, x509.ExtKeyUsageClientAuth, p.ca, p.caKey)
	rem, err := NewRemote(ts.URL, p.pool, runnerCert, testHMAC, issuer.Cert)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := pkidir.Open(t.TempDir())
	var cns []string
	for i := 0; i < 40; i++ {
		cns = append(cns, fmt.Sprintf("ci-%02d", i))
	}
	results := rem.IssueBatch(context.Background(), runnerJobs(t, d, cns...), "client", false, nil)
	ok, failed := 0, 0
	for i, r := range results {
		lf := d.Leaf(cns[i])
		present := 0
		for _, f := range []string{lf.Cert, lf.Key, lf.CSR} {
			if _, err := os.Stat(f); err == nil {
				present++
			}
		}
		switch {
		case r.Err == nil && present == 3:
			ok++
		case r.Err != nil && present == 0:
			failed++
		default:
			t.Errorf("%s: err %v and %d of its 3 files", cns[i], r.Err, present)
		}
	}
	if ok != 5 || failed != 35 {
		t.Errorf("%d written, %d failed; want 5 and 35", ok, failed)
	}
	if n := rows(t, store); n != 5 {
		t.Errorf("%d rows, want the 5 handed out", n)
	}
	// Once the signer was seen gone, the rest were not sent: at most the
	// requests already in flight (Parallel) reached the dead signer.
	if got := served.Load(); got > 5+Parallel {
		t.Errorf("%d requests reached the signer after it died", got-5)
	}
	entries, _ := os.ReadDir(d.Path())
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("a temporary file was left: %s", filepath.Join(d.Path(), e.Name()))
		}
	}
}
