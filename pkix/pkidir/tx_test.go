package pkidir

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

func testDir(t *testing.T) *Dir {
	t.Helper()
	d, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func record(serial, name string) inventory.Record {
	now := time.Now().UTC().Truncate(time.Second)
	return inventory.Record{Serial: serial, Status: inventory.StatusValid, Kind: inventory.KindClient, CN: name, Name: name,
		NotBefore: now, NotAfter: now.Add(time.Hour), Issuer: "ca", SHA256: "aa" + serial}
}

func set(d *Dir, name string, force bool) dirtx.Set {
	files := []atomicfile.File{
		{Path: d.File(name + ".pem"), Data: []byte("cert " + name), Mode: atomicfile.ModePublic},
		{Path: d.File(name + "-key.pem"), Data: []byte("key " + name), Mode: atomicfile.ModeSecret},
	}
	return dirtx.Set{Staged: atomicfile.Stage(files, force), Records: []inventory.Record{record(strings.ToUpper(name), name)}, Force: force}
}

func listing(t *testing.T, dir string) string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		names = append(names, e.Name()+"="+string(data))
	}
	return strings.Join(names, "\n")
}

// A set whose name is taken (by another program, after the checks) is
// refused alone; the others are written whole and recorded.
func TestCommitRefusesTakenSetsAlone(t *testing.T) {
	d := testDir(t)
	sets := []dirtx.Set{set(d, "0a", false), set(d, "0b", false), set(d, "0c", false)}
	os.WriteFile(d.File("0b-key.pem"), []byte("someone else's"), 0o600)
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock()
	_, errs, err := s.Commit(dirtx.Change{Op: "test", Sets: sets})
	if err != nil || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Fatalf("err %v, errs %v: want only 0b refused", err, errs)
	}
	inv, _ := d.ReadInventory()
	if len(inv.Records) != 2 || !inv.Has("0A") || inv.Has("0B") || !inv.Has("0C") {
		t.Errorf("inventory %+v, want 0a and 0c", inv.Records)
	}
	if data, _ := os.ReadFile(d.File("0b-key.pem")); string(data) != "someone else's" {
		t.Errorf("0b-key.pem was changed to %q", data)
	}
	if _, err := os.Stat(d.File("0b.pem")); err == nil {
		t.Error("half of 0b's set was placed")
	}
	if l := listing(t, d.Abs()); strings.Contains(l, ".tmp-") {
		t.Errorf("temporary files left:\n%s", l)
	}
}

// A write that fails while staging (a full disk) changes nothing: no
// file, no record, no journal.
func TestFailedStagingChangesNothing(t *testing.T) {
	d := testDir(t)
	os.WriteFile(d.File("serials.txt"), []byte("01\n"), 0o644)
	before := listing(t, d.Abs())
	full := errors.New("no space left on device")
	files := []atomicfile.File{
		{Path: d.File("serials.txt"), Data: []byte("01\n02\n"), Mode: atomicfile.ModePublic, Replace: true},
		{Path: d.File("ca.crl"), Stream: func(io.Writer) error { return full }, Mode: atomicfile.ModePublic, Replace: true},
	}
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unlock()
	_, errs, err := s.Commit(dirtx.Change{Op: "revoke", Sets: []dirtx.Set{{Staged: atomicfile.Stage(files, false)}}, Updates: []inventory.Record{record("02", "x")}})
	if err == nil && errs[0] == nil {
		t.Fatal("the commit succeeded")
	}
	if after := listing(t, d.Abs()); after != before {
		t.Errorf("the directory changed:\n%s\nwas:\n%s", after, before)
	}
}

// The journal is applied idempotently: after a torn append, and again
// after it was applied already; a changed inventory is refused.
func TestJournalReplay(t *testing.T) {
	d := testDir(t)
	os.WriteFile(d.Inventory(), inventory.InventoryHeader(), 0o644)
	size := int64(len(inventory.InventoryHeader()))
	r := record("0D", "dev")
	line := string(inventory.AppendInventoryLine(nil, &r))
	os.WriteFile(d.File(".dev.pem.tmp-1-1"), []byte("cert"), 0o644)
	j := &dirtx.Journal{Version: 1, Op: "client issue", PID: 1, InventorySize: size, Append: line,
		Moves: []dirtx.Move{{Temp: ".dev.pem.tmp-1-1", Path: "dev.pem", How: dirtx.MoveNew}}}
	// torn: half the line made it
	f, _ := os.OpenFile(d.Inventory(), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(line[:len(line)/2])
	f.Close()
	if err := d.WriteJournal(j); err != nil {
		t.Fatal(err)
	}
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Repaired) == 0 || !strings.Contains(s.Repaired[0], "finished an interrupted client issue") {
		t.Errorf("repaired = %q", s.Repaired)
	}
	s.Unlock()
	data, _ := os.ReadFile(d.Inventory())
	if string(data) != string(inventory.InventoryHeader())+line {
		t.Errorf("inventory after replay:\n%s", data)
	}
	if got, _ := os.ReadFile(d.File("dev.pem")); string(got) != "cert" {
		t.Errorf("dev.pem = %q", got)
	}
	// Applying it again is a no-op.
	if _, err := d.Apply(j); err != nil {
		t.Fatalf("second apply: %v", err)
	}
	if again, _ := os.ReadFile(d.Inventory()); string(again) != string(data) {
		t.Error("a second apply changed the inventory")
	}
	// An inventory that changed in between is not touched.
	os.WriteFile(d.Inventory(), append(data[:size], "something else\n"...), 0o644)
	d.WriteJournal(j)
	if _, err := d.Lock(context.Background()); err == nil || !strings.Contains(err.Error(), "changed since an interrupted client issue") {
		t.Errorf("lock over a changed inventory: %v", err)
	}
}

// A staging directory whose operation is gone is removed; a live one's
// is not, whatever its process ID says.
func TestSweep(t *testing.T) {
	d := testDir(t)
	live, err := d.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(live.Path, ".x.pem.tmp-1-1"), nil, 0o600)
	dead, err := d.NewStage()
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dead.Path, ".y.pem.tmp-1-1"), nil, 0o600)
	dead.Lock.Unlock()                                // as when its process dies
	os.WriteFile(d.File("notes.tmp-1-2"), nil, 0o600) // not ours
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Unlock()
	if _, err := os.Stat(dead.Path); err == nil {
		t.Error("a dead operation's staging directory was left")
	}
	if _, err := os.Stat(filepath.Join(live.Path, ".x.pem.tmp-1-1")); err != nil {
		t.Errorf("a live operation's file was removed: %v", err)
	}
	if _, err := os.Stat(d.File("notes.tmp-1-2")); err != nil {
		t.Error("removed a file that is not mtlsctl's")
	}
	if len(s.Repaired) != 1 || !strings.Contains(s.Repaired[0], "removed 1 temporary file") {
		t.Errorf("repaired = %q", s.Repaired)
	}
	live.Release()
	if _, err := os.Stat(d.File(dirtx.StagingName)); err == nil {
		t.Error("the staging root was left after the last operation")
	}
}

func TestLockExcludes(t *testing.T) {
	d := testDir(t)
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := d.Lock(ctx); err == nil {
		t.Fatal("a second lock was granted")
	}
	s.Unlock()
	s2, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s2.Unlock()
}

// The journal is readable JSON that says what was meant.
func TestJournalIsReadable(t *testing.T) {
	d := testDir(t)
	j := &dirtx.Journal{Version: 1, Op: "client revoke", PID: 7, Moves: []dirtx.Move{{Temp: ".a.tmp-7-1", Path: "a", How: dirtx.MoveReplace}}}
	if err := d.WriteJournal(j); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(d.JournalPath())
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil || back["op"] != "client revoke" {
		t.Errorf("journal %s: %v", data, err)
	}
	info, _ := os.Stat(d.JournalPath())
	if info.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", info.Mode())
	}
}

// Names derived from CNs never take the directory's own names.
func TestCheckCertName(t *testing.T) {
	d := testDir(t)
	os.WriteFile(d.File("issuing-serials.txt"), nil, 0o644)
	for name, want := range map[string]string{
		"ca": "reserved", "CA": "reserved", "serve-ca": "reserved", "ca-chain": "reserved", "inventory": "reserved",
		"dev-1-key": "ending in -key", "x-fullchain": "ending in -fullchain", "issuing": "belongs to an issuing CA",
		"dev-1": "", "client": "", "cab": "",
	} {
		err := d.CheckCertName(name)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}

// A staged file removed under a committed journal is reported, not taken
// as done in silence.
func TestJournalLostFile(t *testing.T) {
	d := testDir(t)
	r := record("0E", "gone")
	j := &dirtx.Journal{Version: 1, Op: "client issue", PID: 1, Append: string(inventory.AppendInventoryLine(inventory.InventoryHeader(), &r)),
		Moves: []dirtx.Move{{Temp: ".gone.pem.tmp-1-1", Path: "gone.pem", How: dirtx.MoveNew}}}
	if err := d.WriteJournal(j); err != nil {
		t.Fatal(err)
	}
	s, err := d.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	s.Unlock()
	if len(s.Repaired) != 2 || !strings.Contains(s.Repaired[1], "gone.pem vanished before taking its name") {
		t.Errorf("repaired = %q", s.Repaired)
	}
}

// A journal edited by hand may not move files from outside the
// directory, nor keep a backup elsewhere; a symlinked journal or staging
// area is not followed.
func TestJournalConfined(t *testing.T) {
	d := testDir(t)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("secret"), 0o600)
	os.WriteFile(d.File("ca-key.pem"), []byte("key"), 0o600)
	for _, m := range []dirtx.Move{
		{Temp: filepath.Join(d.Abs(), dirtx.StagingName, "..", "..", filepath.Base(outside), "secret.txt"), Path: "stolen.txt", How: dirtx.MoveNew},
		{Temp: filepath.Join(outside, "secret.txt"), Path: "stolen.txt", How: dirtx.MoveNew},
		{Temp: ".mtlsctl-tmp/stage-x/.f.tmp-1", Path: "ca-key.pem", How: dirtx.MoveBackup, Backup: filepath.Join(outside, "ca-key-leak.pem")},
	} {
		os.MkdirAll(d.File(".mtlsctl-tmp/stage-x"), 0o700)
		os.WriteFile(d.File(".mtlsctl-tmp/stage-x/.f.tmp-1"), []byte("attacker"), 0o600)
		if err := d.WriteJournal(&dirtx.Journal{Version: 1, Op: "x", Moves: []dirtx.Move{m}}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Lock(context.Background()); err == nil || !strings.Contains(err.Error(), "which mtlsctl never does") {
			t.Errorf("move %+v: %v", m, err)
		}
		os.Remove(d.JournalPath())
	}
	if _, err := os.Stat(d.File("stolen.txt")); err == nil {
		t.Error("a file outside the directory was moved in")
	}
	if _, err := os.Stat(filepath.Join(outside, "ca-key-leak.pem")); err == nil {
		t.Error("the CA key was linked out of the directory")
	}
	if data, _ := os.ReadFile(d.File("ca-key.pem")); string(data) != "key" {
		t.Errorf("ca-key.pem = %q", data)
	}
	// symlinked journal
	os.WriteFile(filepath.Join(outside, "j"), []byte(`{"version":1}`), 0o600)
	os.Symlink(filepath.Join(outside, "j"), d.JournalPath())
	if _, err := d.Lock(context.Background()); err == nil || !strings.Contains(err.Error(), "will not follow one") {
		t.Errorf("symlinked journal: %v", err)
	}
	os.Remove(d.JournalPath())
	// symlinked staging area
	os.RemoveAll(d.File(dirtx.StagingName))
	os.Symlink(outside, d.File(dirtx.StagingName))
	if _, err := d.NewStage(); err == nil || !strings.Contains(err.Error(), "will not follow it") {
		t.Errorf("symlinked staging area: %v", err)
	}
}
