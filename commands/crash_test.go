package commands

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// The directory's promises, tested by crashing on purpose: a real mtlsctl
// (this test binary run as main) is killed with SIGKILL at each named
// point of a transaction, and at random moments of a batch; then the
// invariants are checked, before and after the next command repairs.

// newFleetDir makes a directory with a root and three clients, once, and
// copies it for each case (key generation is the slow part).
func newFleetDir(t *testing.T, template string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-a", template+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	return dir
}

func fleetTemplate(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--cn", "dev-1", "--cn", "dev-2", "--cn", "dev-3", "--key-type", "ecdsa-256")
	return dir
}

// assertRecorded: every certificate under its final name is in the
// inventory, with its fingerprint. This must hold at every instant, so it
// is checked right after a crash, before anything repairs.
func assertRecorded(t *testing.T, dir string) {
	t.Helper()
	inv, err := inventory.ReadInventoryFile(filepath.Join(dir, "inventory.tsv"))
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".pem") || strings.HasPrefix(name, ".") || strings.HasSuffix(name, "-key.pem") ||
			strings.HasSuffix(name, "-fullchain.pem") || strings.HasSuffix(name, "-chain.pem") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(data)
		if block == nil {
			t.Fatalf("%s: not PEM", name)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r, ok := inv.Lookup(x509text.SerialHex(c.SerialNumber))
		if !ok || r.SHA256 != x509text.FingerprintSHA256(c) {
			t.Errorf("%s (serial %s) is under its final name but not in the inventory", name, x509text.SerialHex(c.SerialNumber))
		}
		// A certificate takes its name after its key: never one without.
		if _, err := os.Stat(filepath.Join(dir, strings.TrimSuffix(name, ".pem")+"-key.pem")); err != nil {
			t.Errorf("%s is under its final name without its key", name)
		}
	}
}

// assertWhole: after a repair, no journal, no temporary file, every
// certificate's set complete, and every valid record's file holds it.
func assertWhole(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") || strings.HasPrefix(e.Name(), ".mtlsctl-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	inv, err := inventory.ReadInventoryFile(filepath.Join(dir, "inventory.tsv"))
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	for _, r := range inv.Records {
		if r.Status != inventory.StatusValid || r.Kind == inventory.KindRoot {
			continue
		}
		for _, suffix := range []string{".pem", "-key.pem", ".csr"} {
			if _, err := os.Stat(filepath.Join(dir, r.Name+suffix)); err != nil {
				t.Errorf("%s is recorded valid but %s%s is missing", r.CN, r.Name, suffix)
			}
		}
		data, _ := os.ReadFile(filepath.Join(dir, r.Name+".pem"))
		if block, _ := pem.Decode(data); block != nil {
			if c, err := x509.ParseCertificate(block.Bytes); err == nil && x509text.SerialHex(c.SerialNumber) != r.Serial {
				t.Errorf("%s.pem holds serial %s, the inventory says %s", r.Name, x509text.SerialHex(c.SerialNumber), r.Serial)
			}
		}
	}
	assertRecorded(t, dir)
}

// assertCRLComplete: every certificate the inventory marks revoked is in
// the CRL (check exits 1 on a CRL behind the inventory).
func assertCRLComplete(t *testing.T, dir string) {
	t.Helper()
	if code, _, errs := mtlsctl(t, dir, nil, "check", "--crl-warn", "1h"); code != 0 {
		t.Errorf("check after repair: exit %d\n%s", code, errs)
	}
}

var crashPoints = []string{"staged", "journal", "inventory", "move-0", "move-1", "applied"}

func TestCrashAtEveryPoint(t *testing.T) {
	if testing.Short() {
		t.Skip("runs mtlsctl about 150 times")
	}
	template := fleetTemplate(t)
	ops := []struct {
		name string
		prep [][]string // run before, not crashed
		args []string
	}{
		{"batch", nil, []string{"client", "issue", "--cn", "a-1", "--cn", "a-2", "--cn", "a-3", "--key-type", "ecdsa-256", "--p12", "--no-password"}},
		{"renewal", nil, []string{"client", "issue", "--cn", "dev-2", "--name", "dev-2", "--force", "--key-type", "ecdsa-256"}},
		{"renew-batch", nil, []string{"client", "renew", "dev-1", "dev-2", "dev-3"}},
		{"revoke-crl", nil, []string{"client", "revoke", "dev-1", "--reason", "keyCompromise", "--crl"}},
		{"crl-build", [][]string{{"client", "revoke", "dev-3"}}, []string{"crl", "build", "serials.txt"}},
		{"intermediate", nil, []string{"ca", "intermediate", "--cn", "Issuing 1", "--key-type", "ecdsa-256"}},
		{"export", nil, []string{"client", "export", "dev-2", "--p12", "--no-password"}},
		// a new root over the old: a crash between its renames leaves the
		// new certificate beside the old key until the next command repairs
		{"root-renewal", nil, []string{"ca", "init", "--force", "--key-type", "ecdsa-256"}},
		// a re-keyed intermediate: its old key retired in the same
		// transaction, never lost, never left without its certificate
		{"intermediate-rekey", [][]string{{"ca", "intermediate", "--cn", "Issuing 1", "--key-type", "ecdsa-256"}, {"client", "issue", "--issuer", "intermediate", "--cn", "i-1", "--key-type", "ecdsa-256"},
			{"client", "revoke", "i-1", "--crl"}}, []string{"ca", "intermediate", "--cn", "Issuing 1", "--force", "--key-type", "ecdsa-256"}},
	}
	for _, op := range ops {
		for _, point := range crashPoints {
			t.Run(op.name+"/"+point, func(t *testing.T) {
				dir := newFleetDir(t, template)
				for _, p := range op.prep {
					must(t, dir, p...)
				}
				code, _, errs := mtlsctl(t, dir, []string{"MTLSCTL_TEST_CRASH=" + point}, op.args...)
				if code != -1 && code != 0 {
					t.Fatalf("exit %d, want killed or done\n%s", code, errs)
				}
				assertRecorded(t, dir)
				_, journalErr := os.Stat(filepath.Join(dir, ".mtlsctl-journal"))
				out := must(t, dir, "client", "issue", "--cn", "probe", "--name", "probe", "--key-type", "ecdsa-256")
				if journalErr == nil && !strings.Contains(out, "finished an interrupted") {
					t.Errorf("a journal was left, but the next command did not say it finished it:\n%s", out)
				}
				assertWhole(t, dir)
				switch op.name {
				case "revoke-crl":
					// Revoked and published together, or neither.
					assertCRLComplete(t, dir)
					// Run again, it finds its work done or does it now.
					must(t, dir, op.args...)
					assertCRLComplete(t, dir)
				case "intermediate-rekey":
					assertRekeyed(t, dir, code == 0 || journalErr == nil)
				case "crl-build":
					// The revocation is in the inventory; the CRL either
					// has it or check says so, and a new build adds it.
					must(t, dir, op.args...)
					assertCRLComplete(t, dir)
				}
			})
		}
	}
}

// killAfter runs mtlsctl in dir and kills it with SIGKILL after delay.
func killAfter(t *testing.T, dir string, delay time.Duration, args ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTLSCTL_AS_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(delay)
	cmd.Process.Kill()
	cmd.Wait()
	t.Logf("%s: killed after %v", strings.Join(args[:2], " "), delay)
}

// writeRoundCNs writes DIR/cns.txt: 150 CNs of this round.
func writeRoundCNs(t *testing.T, dir string, round int) {
	t.Helper()
	var cns strings.Builder
	for i := range 150 {
		fmt.Fprintf(&cns, "r%d-dev-%d\n", round, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "cns.txt"), []byte(cns.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Kill -9 at random moments of a batch, several times over, then repair.
func TestKillBatchAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	template := fleetTemplate(t)
	for round := range 6 {
		dir := newFleetDir(t, template)
		writeRoundCNs(t, dir, round)
		killAfter(t, dir, time.Duration(rng.IntN(600))*time.Millisecond, "client", "issue", "--cn-file", "cns.txt", "--key-type", "ecdsa-256")
		assertRecorded(t, dir)
		must(t, dir, "client", "issue", "--cn", "probe", "--name", "probe", "--key-type", "ecdsa-256")
		assertWhole(t, dir)
	}
}

// Kill -9 at random moments of a batch renewal: every certificate is
// recorded, old or new, and the next command leaves every set whole.
func TestKillRenewalAtRandom(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	template := fleetTemplate(t)
	for round := range 3 {
		dir := newFleetDir(t, template)
		writeRoundCNs(t, dir, round)
		// Due within 60d, renewed for the profile's 365d: a renewal is
		// not due again (a window past the lifetime is refused).
		must(t, dir, "client", "issue", "--cn-file", "cns.txt", "--key-type", "ecdsa-256", "--expiry", "30d")
		killAfter(t, dir, time.Duration(rng.IntN(500))*time.Millisecond, "client", "renew", "--expiring", "60d")
		assertRecorded(t, dir)
		must(t, dir, "client", "issue", "--cn", "probe", "--name", "probe", "--key-type", "ecdsa-256")
		assertWhole(t, dir)
		// The rest is renewed by running it again.
		must(t, dir, "client", "renew", "--expiring", "60d", "--cn", "r*")
		assertWhole(t, dir)
	}
}

// SIGTERM (a cancelled CI job) during a batch: no new certificate is
// started, those in flight are recorded, the summary is printed, exit 143.
func TestSIGTERMDuringBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := newFleetDir(t, fleetTemplate(t))
	var cns strings.Builder
	for i := range 400 {
		fmt.Fprintf(&cns, "term-%d\n", i)
	}
	os.WriteFile(filepath.Join(dir, "cns.txt"), []byte(cns.String()), 0o644)
	// RSA keys take long enough that the signal lands mid-batch.
	cmd := exec.Command(os.Args[0], "client", "issue", "--cn-file", "cns.txt", "--key-type", "rsa-2048", "--json")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal once the first certificate is staged: mid-batch by
	// construction, however fast or loaded the machine is.
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if staged, _ := filepath.Glob(filepath.Join(dir, ".mtlsctl-tmp", "stage-*", ".term-*")); len(staged) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 143 {
		t.Fatalf("exit %v, want 143\n%s", err, errb.String())
	}
	if !strings.Contains(errb.String(), "not started") || !strings.Contains(errb.String(), "of 400 certificates") {
		t.Errorf("no summary of what was done:\n%s", errb.String())
	}
	inv, err := inventory.ReadInventoryFile(filepath.Join(dir, "inventory.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	issued := 0
	for _, r := range inv.Records {
		if strings.HasPrefix(r.CN, "term-") {
			issued++
		}
	}
	if issued == 0 || issued == 400 {
		t.Errorf("%d of 400 recorded: the signal should land mid-batch", issued)
	}
	entries, _ := os.ReadDir(dir)
	files := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "term-") && strings.HasSuffix(e.Name(), "-key.pem") {
			files++
		}
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if files != issued {
		t.Errorf("%d keys on disk, %d certificates recorded", files, issued)
	}
	assertWhole(t, dir)
}

// Every writing command at once in one directory: nothing lost, nothing
// half-done, and CRL numbers strictly increasing in the order the builds
// took the lock.
func TestConcurrentCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	var cns []string
	for i := range 8 {
		cns = append(cns, "--cn", fmt.Sprintf("c-%d", i))
	}
	must(t, dir, append([]string{"client", "issue", "--key-type", "ecdsa-256"}, cns...)...)
	os.WriteFile(filepath.Join(dir, "serials.txt"), nil, 0o644)
	must(t, dir, "crl", "build", "serials.txt")

	type run struct {
		args []string
		code int
		out  string
		errs string
	}
	var runs []*run
	for i := range 4 {
		runs = append(runs, &run{args: []string{"client", "issue", "--key-type", "ecdsa-256", "--cn", fmt.Sprintf("n-%d-a", i), "--cn", fmt.Sprintf("n-%d-b", i)}})
		runs = append(runs, &run{args: []string{"client", "revoke", fmt.Sprintf("c-%d", i), "--crl", "--json"}})
	}
	for range 3 {
		runs = append(runs, &run{args: []string{"crl", "build", "serials.txt", "--json"}})
	}
	runs = append(runs, &run{args: []string{"client", "export", "c-6", "--p12", "--no-password"}},
		&run{args: []string{"client", "export", "c-7", "--p12", "--no-password"}})
	done := make(chan struct{})
	for _, r := range runs {
		go func() {
			r.code, r.out, r.errs = mtlsctl(t, dir, nil, r.args...)
			done <- struct{}{}
		}()
	}
	for range runs {
		<-done
	}
	var numbers []string
	for _, r := range runs {
		if r.code != 0 {
			t.Errorf("mtlsctl %s: exit %d\n%s", strings.Join(r.args, " "), r.code, r.errs)
		}
		if i := strings.Index(r.out, `"number": "`); i >= 0 {
			numbers = append(numbers, strings.SplitN(r.out[i+11:], `"`, 2)[0])
		}
	}
	seen := map[string]bool{}
	for _, n := range numbers {
		if seen[n] {
			t.Errorf("CRL number %s was issued twice: %v", n, numbers)
		}
		seen[n] = true
	}
	assertWhole(t, dir)
	assertCRLComplete(t, dir)
	out := must(t, dir, "client", "list", "--revoked")
	for i := range 4 {
		if !strings.Contains(out, fmt.Sprintf("c-%d ", i)) {
			t.Errorf("c-%d is not revoked:\n%s", i, out)
		}
	}
	for _, name := range []string{"c-6.p12", "c-7.p12", "n-3-b.pem"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

// Under umask 277 a user who is not root keeps a working directory: the
// modes mtlsctl sets are set exactly (root would not notice, permissions
// do not stop it). Runs as nobody, so only where the test runs as root.
func TestUmask277NotRoot(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run mtlsctl as another user")
	}
	work, err := os.MkdirTemp("", "umask")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(work)
	os.Chmod(work, 0o777)
	bin := filepath.Join(work, "mtlsctl")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `umask 277 && set -e
m() { MTLSCTL_AS_MAIN=1 "$0" "$@" >/dev/null; }
m ca init --dir p --key-type ecdsa-256
m client issue --dir p --cn u1 --name u1 --key-type ecdsa-256
m client revoke --dir p u1 --crl
m client issue --dir p --cn u2 --name u2 --key-type ecdsa-256 --p12 --no-password
stat -c '%n %a' p p/ca-key.pem p/u2-key.pem p/u2.p12 p/ca.pem p/inventory.tsv p/ca.crl p/serials.txt`
	cmd := exec.Command("/bin/sh", "-c", script, bin)
	cmd.Dir = work
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("as nobody under umask 277: %v\n%s", err, out)
	}
	want := "p 700\np/ca-key.pem 600\np/u2-key.pem 600\np/u2.p12 600\np/ca.pem 644\np/inventory.tsv 644\np/ca.crl 644\np/serials.txt 644\n"
	if string(out) != want {
		t.Errorf("modes:\n%s\nwant:\n%s", out, want)
	}
}

// A PKCS#12 exported elsewhere is staged beside its output; killed before
// it takes its name, its temporary file (a key) is still removed by the
// next command in the directory.
func TestCrashLeavesNoKeyOutside(t *testing.T) {
	dir := newFleetDir(t, fleetTemplate(t))
	out := t.TempDir()
	code, _, errs := mtlsctl(t, dir, []string{"MTLSCTL_TEST_CRASH=staged"}, "client", "export", "dev-1", "--p12", "--no-password", "--out", filepath.Join(out, "dev-1.p12"))
	if code != -1 {
		t.Fatalf("exit %d, want killed\n%s", code, errs)
	}
	left, _ := filepath.Glob(filepath.Join(out, ".*.tmp-*"))
	if len(left) == 0 {
		t.Fatal("no temporary file beside the output: the crash point was not reached")
	}
	must(t, dir, "client", "issue", "--cn", "probe", "--key-type", "ecdsa-256")
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) != 0 {
		t.Errorf("left beside the output after the next command: %v", left)
	}
}

// assertRekeyed: after a re-key crashed anywhere and was repaired, the
// intermediate is whole (certificate and key a pair), and either the old
// key is still in place (the change never committed) or it is retired
// whole beside its manifest, its CRL still listing what it revoked.
func assertRekeyed(t *testing.T, dir string, committed bool) {
	t.Helper()
	pair := func(certFile, keyFile string) *x509.Certificate {
		cdata, err1 := os.ReadFile(filepath.Join(dir, certFile))
		kdata, err2 := os.ReadFile(filepath.Join(dir, keyFile))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s / %s: %v %v", certFile, keyFile, err1, err2)
		}
		cert, err := pemutil.ParseCertificatePEM(certFile, cdata)
		if err != nil {
			t.Fatal(err)
		}
		key, err := pemutil.ParseKeyPEM(keyFile, kdata)
		if err != nil {
			t.Fatal(err)
		}
		if !pemutil.KeyMatches(cert, key) {
			t.Errorf("%s and %s are not a pair", certFile, keyFile)
		}
		return cert
	}
	current := pair("intermediate.pem", "intermediate-key.pem")
	manifests, _ := filepath.Glob(filepath.Join(dir, "intermediate.retired-*.json"))
	if !committed {
		if len(manifests) != 0 {
			t.Errorf("not committed, yet retired: %v", manifests)
		}
		return
	}
	if len(manifests) != 1 {
		t.Fatalf("committed, %d manifests", len(manifests))
	}
	base := strings.TrimSuffix(filepath.Base(manifests[0]), ".json")
	old := pair(base+".pem", base+"-key.pem")
	if old.Equal(current) {
		t.Error("the retired certificate is the current one")
	}
	if code, _, errs := mtlsctl(t, dir, nil, "crl", "export"); code != 0 {
		t.Errorf("crl export after the re-key: exit %d\n%s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, base+".crl")); err != nil {
		t.Errorf("the retired key's CRL: %v", err)
	}
}
