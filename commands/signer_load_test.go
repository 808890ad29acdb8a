package commands

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/signer/pgtest"
)

// signingHost is a directory with a CA, its signer initialised on a
// fresh database, and 'signer serve' running; it returns the directory,
// the signer's URL, the database URL and the environment a runner
// needs (with runner-1's certificate).
func signingHost(t *testing.T, cnPattern string) (dir, url, dsn string, env []string) {
	t.Helper()
	dsn = pgtest.DSN(t)
	t.Cleanup(pgtest.Stop)
	dir = t.TempDir()
	dbEnv := []string{"MTLSCTL_SIGNER_DB=" + dsn}
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	if code, _, errOut := mtlsctl(t, dir, dbEnv, "signer", "init", "--cn", cnPattern); code != 0 {
		t.Fatalf("signer init: %s", errOut)
	}
	cmd := exec.Command(os.Args[0], "signer", "serve", "--addr", "127.0.0.1:0", "--addr-file", "addr")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MTLSCTL_AS_MAIN=1"), dbEnv...)
	var serveErr bytes.Buffer
	cmd.Stderr = &serveErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		if t.Failed() {
			t.Logf("signer's stderr:\n%s", serveErr.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil && len(b) > 0 {
			url = "https://" + strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the signer did not start: %s", serveErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	s := filepath.Join(dir, "signer")
	env = []string{"MTLSCTL_SIGNER=" + url, "MTLSCTL_SIGNER_CA=" + filepath.Join(s, "ca.pem"),
		"MTLSCTL_SIGNER_CERT=" + filepath.Join(s, "runner-1.pem"), "MTLSCTL_SIGNER_KEY=" + filepath.Join(s, "runner-1-key.pem"),
		"MTLSCTL_SIGNER_HMAC_FILE=" + filepath.Join(s, "hmac.key")}
	return dir, url, dsn, env
}

// runnerDir is a runner's directory: the issuing CA's certificate and a
// file of CNs.
func runnerDir(t *testing.T, host string, cns []string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := os.ReadFile(filepath.Join(host, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o644)
	os.WriteFile(filepath.Join(dir, "cns.txt"), []byte(strings.Join(cns, "\n")+"\n"), 0o644)
	return dir
}

func dbRows(t *testing.T, dsn string) map[string]string {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT serial_number, common_name FROM certificates`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var serial []byte
		var cn string
		rows.Scan(&serial, &cn)
		if _, dup := out[string(serial)]; dup {
			t.Errorf("serial %s twice in the database", serial)
		}
		out[string(serial)] = cn
	}
	return out
}

// certsIn reads every NAME.pem a runner wrote: serial (decimal) -> CN.
func certsIn(t *testing.T, dir string) (map[string]string, []string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "ci-*.pem"))
	out := map[string]string{}
	var certFiles []string
	for _, f := range files {
		if strings.HasSuffix(f, "-key.pem") {
			continue
		}
		data, _ := os.ReadFile(f)
		c, err := pemutil.ParseCertificatePEM(f, data)
		if err != nil {
			t.Fatal(err)
		}
		out[c.SerialNumber.String()] = c.Subject.CommonName
		certFiles = append(certFiles, f)
	}
	return out, certFiles
}

// Four runner processes issue 100 certificates each at once through one
// signer: 400 rows, 400 distinct serials, every certificate on disk is
// in the database, and OpenSSL verifies all 400 against the CA.
func TestFourRunnersThroughOneSigner(t *testing.T) {
	host, _, dsn, env := signingHost(t, "ci-*")
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]string, 4)
	for r := range dirs {
		var cns []string
		for i := 0; i < 100; i++ {
			cns = append(cns, fmt.Sprintf("ci-%d-%03d", r, i))
		}
		dirs[r] = runnerDir(t, host, cns)
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			code, _, errOut := mtlsctl(t, dirs[r], env, "client", "issue", "--cn-file", "cns.txt", "--key-type", "ecdsa-256")
			if code != 0 {
				errs[r] = fmt.Sprintf("runner %d: exit %d: %s", r, code, errOut)
			}
		}(r)
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Fatal(e)
		}
	}
	rows := dbRows(t, dsn)
	if len(rows) != 400 {
		t.Fatalf("%d rows, want 400", len(rows))
	}
	var all []string
	for _, d := range dirs {
		certs, files := certsIn(t, d)
		if len(certs) != 100 {
			t.Errorf("%s: %d certificates", d, len(certs))
		}
		for serial, cn := range certs {
			if rows[serial] != cn {
				t.Errorf("%s (serial %s) is not in the database as such (%q)", cn, serial, rows[serial])
			}
		}
		all = append(all, files...)
	}
	openssl := interoptest.Require(t, "openssl")
	out, err := exec.Command(openssl, append([]string{"verify", "-purpose", "sslclient", "-CAfile", filepath.Join(host, "ca.pem")}, all...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl verify: %v\n%s", err, out)
	}
	if n := bytes.Count(out, []byte(": OK\n")); n != 400 {
		t.Fatalf("openssl verified %d of 400", n)
	}
}

// PostgreSQL stops in the middle of a runner's batch: the signer refuses
// from then on, the runner exits 3 naming what was not issued, every
// certificate the runner wrote is in the database,
// nothing partial is on disk; once PostgreSQL is back, the CNs the runner
// named as not issued are issued by a rerun.
func TestDatabaseStopsMidBatch(t *testing.T) {
	host, _, dsn, env := signingHost(t, "ci-*")
	var cns []string
	for i := 0; i < 300; i++ {
		cns = append(cns, fmt.Sprintf("ci-%03d", i))
	}
	dir := runnerDir(t, host, cns)
	cmd := exec.Command(os.Args[0], "client", "issue", "--cn-file", "cns.txt", "--key-type", "ecdsa-256", "--json")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1"), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Stop the database once some certificates are through.
	for deadline := time.Now().Add(60 * time.Second); ; {
		files, _ := filepath.Glob(filepath.Join(dir, "ci-*-key.pem"))
		if len(files) >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	pgtest.StopServer(t)
	err := cmd.Wait()
	pgtest.StartServer(t)
	// Some were issued and written before the database went away: a
	// partial batch, exit 3 as for a local one.
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("the runner: %v (want exit 3)\n%s", err, stderr.String())
	}
	var res struct {
		Failed []struct{ CN, Error string } `json:"failed"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	certs, _ := certsIn(t, dir)
	rows := dbRows(t, dsn)
	if len(res.Failed) == 0 || len(certs)+len(res.Failed) != len(cns) {
		t.Fatalf("%d written and %d named as failed, of %d", len(certs), len(res.Failed), len(cns))
	}
	for serial, cn := range certs {
		if rows[serial] != cn {
			t.Errorf("%s was written but is not in the database", cn)
		}
	}
	for _, f := range res.Failed {
		for _, suffix := range []string{".pem", "-key.pem", ".csr"} {
			if _, err := os.Stat(filepath.Join(dir, f.CN+suffix)); err == nil {
				t.Errorf("%s%s exists, but %s was not issued", f.CN, suffix, f.CN)
			}
		}
	}
	// The rerun, with what was not issued.
	var rerun bytes.Buffer
	w := bufio.NewWriter(&rerun)
	for _, f := range res.Failed {
		fmt.Fprintln(w, f.CN)
	}
	w.Flush()
	os.WriteFile(filepath.Join(dir, "rerun.txt"), rerun.Bytes(), 0o644)
	if code, _, errOut := mtlsctl(t, dir, env, "client", "issue", "--cn-file", "rerun.txt", "--key-type", "ecdsa-256"); code != 0 {
		t.Fatalf("the rerun: exit %d: %s", code, errOut)
	}
	certs, _ = certsIn(t, dir)
	if rows := dbRows(t, dsn); len(certs) != len(cns) || len(rows) != len(cns) {
		t.Fatalf("after the rerun: %d certificates, %d rows, want %d", len(certs), len(rows), len(cns))
	}
}
