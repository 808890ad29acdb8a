package commands

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// renew --revoke-old is two transactions, a renewal then a revocation.
// Whatever stops it between them (a crash, a failing revocation, a
// signal), the old certificate is never left valid without a trace: the
// renewal recorded the intent, check names it (exit 1), and the next
// renewal finishes it. Each case runs the real binary.

// oldSerial is the serial in DIR/NAME.pem now.
func oldSerial(t *testing.T, dir, name string) string {
	t.Helper()
	out := must(t, dir, "client", "list", "--json")
	var list []struct {
		Serial, Name, Status string
	}
	if err := json.Unmarshal([]byte(out[:strings.LastIndex(out, "]")+1]), &list); err != nil {
		t.Fatalf("client list --json: %v\n%s", err, out)
	}
	for _, r := range list {
		if r.Name == name && r.Status == "valid" {
			return r.Serial
		}
	}
	t.Fatalf("no valid %s in\n%s", name, out)
	return ""
}

// assertPendingThenFinished: check exits 1 naming serial, the next
// renewal (with nothing due) revokes it, and check is then clean.
func assertPendingThenFinished(t *testing.T, dir, serial string) {
	t.Helper()
	code, _, errs := mtlsctl(t, dir, nil, "check")
	if code != 1 || !strings.Contains(errs, serial) || !strings.Contains(errs, "not revoked yet") {
		t.Fatalf("check: exit %d, want 1 naming %s\n%s", code, serial, errs)
	}
	out := must(t, dir, "client", "renew", "--expiring", "1d")
	if !strings.Contains(out, "revoked 1 old certificate an earlier renewal with --revoke-old left pending") {
		t.Errorf("the next renewal did not say it finished the revocation:\n%s", out)
	}
	listed := must(t, dir, "client", "list", "--revoked", "--json")
	if !strings.Contains(listed, serial) || !strings.Contains(listed, `"reason": "superseded"`) {
		t.Errorf("serial %s is not revoked (superseded) after the next renewal:\n%s", serial, listed)
	}
	if code, _, errs := mtlsctl(t, dir, nil, "check"); code != 0 {
		t.Errorf("check after the revocation was finished: exit %d\n%s", code, errs)
	}
}

func TestRenewRevokeOldCrash(t *testing.T) {
	dir := newFleetDir(t, fleetTemplate(t))
	serial := oldSerial(t, dir, "dev-1")
	code, _, errs := mtlsctl(t, dir, []string{"MTLSCTL_TEST_CRASH=renewed"}, "client", "renew", "dev-1", "--revoke-old")
	if code != -1 {
		t.Fatalf("exit %d, want killed between the renewal and the revocation\n%s", code, errs)
	}
	if oldSerial(t, dir, "dev-1") == serial {
		t.Fatal("the renewal was not committed before the crash point")
	}
	assertPendingThenFinished(t, dir, serial)
}

func TestRenewRevokeOldFails(t *testing.T) {
	template := fleetTemplate(t)
	dir := newFleetDir(t, template)
	serial := oldSerial(t, dir, "dev-2")
	// The CRL rebuild that comes with the revocation cannot replace a
	// directory: the revocation fails after the renewal is committed.
	if err := os.Mkdir(filepath.Join(dir, "ca.crl"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, out, errs := mtlsctl(t, dir, nil, "client", "renew", "dev-2", "--revoke-old")
	if code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, errs)
	}
	if !strings.Contains(out, "not revoked: serial "+serial) || !strings.Contains(out, "dev-2.pem") {
		t.Errorf("stdout does not name the renewal and the old serial %s:\n%s", serial, out)
	}
	if !strings.Contains(errs, "revoking the old ones failed") {
		t.Errorf("stderr does not say the revocation failed:\n%s", errs)
	}
	// A pending revocation that still cannot be done stops the next
	// renewal before it renews anything.
	code, _, errs = mtlsctl(t, dir, nil, "client", "renew", "dev-3", "--revoke-old")
	if code != 2 || !strings.Contains(errs, "ca.crl") {
		t.Fatalf("exit %d, want 2 naming ca.crl\n%s", code, errs)
	}
	assertPendingThenFinished(t, removeDir(t, dir, "ca.crl"), serial)

	// --json: a document naming the old serial, still exit 3
	dir = newFleetDir(t, template)
	if err := os.Mkdir(filepath.Join(dir, "ca.crl"), 0o755); err != nil {
		t.Fatal(err)
	}
	serial2 := oldSerial(t, dir, "dev-3")
	code, out, errs = mtlsctl(t, dir, nil, "client", "renew", "dev-3", "--revoke-old", "--json")
	if code != 3 {
		t.Fatalf("--json: exit %d, want 3\n%s", code, errs)
	}
	var doc struct {
		NotRevoked []struct{ Serial, Status string } `json:"not_revoked"`
		Issued     []any                             `json:"issued"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if len(doc.NotRevoked) != 1 || doc.NotRevoked[0].Serial != serial2 || len(doc.Issued) != 1 {
		t.Errorf("--json does not name the renewal and the old serial %s:\n%s", serial2, out)
	}
	assertPendingThenFinished(t, removeDir(t, dir, "ca.crl"), serial2)

	// The hint's revoke command works as printed (a bare 'client renew',
	// which the hint named before, renews nothing and revokes nothing).
	dir = newFleetDir(t, template)
	if err := os.Mkdir(filepath.Join(dir, "ca.crl"), 0o755); err != nil {
		t.Fatal(err)
	}
	serial3 := oldSerial(t, dir, "dev-1")
	if code, _, errs = mtlsctl(t, dir, nil, "client", "renew", "dev-1", "--revoke-old"); code != 3 {
		t.Fatalf("exit %d, want 3\n%s", code, errs)
	}
	m := regexp.MustCompile(`'mtlsctl (client revoke --serial ` + serial3 + ` --reason superseded --crl)'`).FindStringSubmatch(errs)
	if m == nil {
		t.Fatalf("the hint names no revoke command for %s:\n%s", serial3, errs)
	}
	removeDir(t, dir, "ca.crl")
	if code, _, errs = mtlsctl(t, dir, nil, strings.Fields(m[1])...); code != 0 {
		t.Fatalf("the hint's command %q: exit %d\n%s", m[1], code, errs)
	}
	if _, _, errs = mtlsctl(t, dir, nil, "check"); strings.Contains(errs, serial3) {
		t.Errorf("after the hint's command check still names %s:\n%s", serial3, errs)
	}
}

func removeDir(t *testing.T, dir, name string) string {
	t.Helper()
	if err := os.Remove(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestRenewRevokeOldSIGTERM(t *testing.T) {
	dir := newFleetDir(t, fleetTemplate(t))
	serial := oldSerial(t, dir, "dev-1")
	// A real SIGTERM, sent by the process to itself once the renewal is
	// committed and before the revocation starts.
	code, out, errs := mtlsctl(t, dir, []string{"MTLSCTL_TEST_SIGTERM=renewed"}, "client", "renew", "dev-1", "--revoke-old")
	if code != 143 {
		t.Fatalf("exit %d, want 143\n%s", code, errs)
	}
	if strings.Contains(errs, "cannot lock") || strings.Contains(errs, "another mtlsctl") {
		t.Errorf("a signal is reported as a lock held by another process:\n%s", errs)
	}
	if !strings.Contains(errs, "interrupted after renewing 1 certificate") || !strings.Contains(out, "not revoked: serial "+serial) {
		t.Errorf("the interruption and the old serial are not named:\nstdout:\n%s\nstderr:\n%s", out, errs)
	}
	assertPendingThenFinished(t, dir, serial)
}
