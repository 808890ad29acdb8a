package commands

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	x509pkix "crypto/x509/pkix"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// "One key, one device" holds between two real
// processes. Two client sign runs get requests for one key; both pass the
// check before signing and sign, then wait (MTLSCTL_TEST_PAUSE) until
// both are there; released, they commit one after the other under the
// directory lock. The first keeps its certificate, the second is refused
// there, with nothing of it written; a check before signing alone would
// record both.
func TestOneKeyOneDeviceRace(t *testing.T) {
	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"dev-a", "dev-b"}
	for _, cn := range names {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: x509pkix.Name{CommonName: cn}}, key)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, cn+".req"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pause := t.TempDir()
	env := []string{"MTLSCTL_TEST_PAUSE=issue-signed:" + pause}
	type run struct {
		code      int
		out, errs string
	}
	runs := make([]run, len(names))
	var wg sync.WaitGroup
	for i, cn := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runs[i].code, runs[i].out, runs[i].errs = mtlsctl(t, dir, env, "client", "sign", cn+".req")
		}()
	}
	// Both signed, neither committed. (A generous bound, not a timing
	// assertion: it only stops a hung test.)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		paused, _ := filepath.Glob(filepath.Join(pause, "paused-*"))
		if len(paused) == len(names) {
			break
		}
		if time.Now().After(deadline) {
			os.WriteFile(filepath.Join(pause, "go"), nil, 0o644)
			wg.Wait()
			t.Fatalf("the runs did not both reach the commit: %+v", runs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(pause, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	won, lost := -1, -1
	for i, r := range runs {
		switch r.code {
		case 0:
			won = i
		case 2:
			lost = i
		default:
			t.Errorf("%s: exit %d\n%s", names[i], r.code, r.errs)
		}
	}
	if won < 0 || lost < 0 {
		t.Fatalf("want one run to succeed and one refused (exit 2): %s exit %d, %s exit %d\n%s\n%s",
			names[0], runs[0].code, names[1], runs[1].code, runs[0].errs, runs[1].errs)
	}
	if want := "the request's key is already certified: " + names[won]; !strings.Contains(runs[lost].errs, want) {
		t.Errorf("the refused run does not say %q:\n%s", want, runs[lost].errs)
	}
	for _, suffix := range []string{".pem", ".csr"} {
		if _, err := os.Stat(filepath.Join(dir, names[lost]+suffix)); err == nil {
			t.Errorf("%s%s was written by the refused run", names[lost], suffix)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".mtlsctl-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// One valid record of that key: the winner's.
	list := must(t, dir, "client", "list")
	if !strings.Contains(list, names[won]) || strings.Contains(list, names[lost]) {
		t.Errorf("client list:\n%s", list)
	}
}
