package dirtx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
)

// Journal is the intent of a transaction, written and synced before any
// of its effects, so that whoever finds it can finish the transaction. It
// is a small JSON file: a user who finds one can read what was meant.
type Journal struct {
	Version int       `json:"version"`
	Op      string    `json:"op"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// InventorySize is the inventory's size before the transaction, and
	// Append what it appends: applying is idempotent because the bytes
	// at that offset either are Append already, a prefix of it (a torn
	// write), or nothing.
	InventorySize int64  `json:"inventory_size"`
	Append        string `json:"inventory_append,omitempty"`
	Moves         []Move `json:"moves"`
}

// Move is one temporary file taking its name.
type Move struct {
	Temp   string `json:"temp"`
	Path   string `json:"path"`
	How    string `json:"how"` // moveNew, moveReplace or moveBackup
	Backup string `json:"backup,omitempty"`
}

const (
	MoveNew     = "new"     // the name must be free
	MoveReplace = "replace" // a file rebuilt in place (serials file, CRL)
	MoveBackup  = "backup"  // --force: the old file is kept as Backup
	moveRetire  = "retire"  // a renewal's stale file (old .p12) moves to Backup; no Temp
	moveRekey   = "rekey"   // a re-keyed CA's file is linked to its retired name (Backup); no Temp
	moveUnlink  = "unlink"  // then its old name goes, if still the same file
)

func (d *Store) JournalPath() string { return filepath.Join(d.abs, journalName) }

// WriteJournal makes the intent durable: temp file, fsync, rename,
// directory fsync. Until the rename, a crash leaves no journal.
func (d *Store) WriteJournal(j *Journal) error {
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	path := d.JournalPath()
	tmp := path + ".tmp" // one writer at a time: the directory is locked
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return d.IOError(tmp, "cannot write the journal", err)
	}
	werr := f.Chmod(0o600) // exactly, whatever the umask
	if werr == nil {
		_, werr = f.Write(append(data, '\n'))
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr == nil {
		werr = syncDir(d.abs)
	}
	if werr != nil {
		os.Remove(tmp)
		return d.IOError(path, "cannot write the journal", werr)
	}
	return nil
}

func (d *Store) readJournal() (*Journal, error) {
	info, err := os.Lstat(d.JournalPath())
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, &pkix.Error{File: d.File(journalName), Msg: "is not a regular file (a symlink?); mtlsctl writes its journal itself and will not follow one",
			Hint: "remove it; if an mtlsctl command was interrupted, check its files by hand"}
	}
	data, err := os.ReadFile(d.JournalPath())
	if err != nil {
		return nil, d.IOError(d.JournalPath(), "cannot read the journal of an interrupted command", err)
	}
	var j Journal
	if err := json.Unmarshal(data, &j); err != nil || j.Version != 1 {
		return nil, &pkix.Error{File: d.File(journalName), Msg: "is not a journal this mtlsctl can read",
			Hint: "an interrupted operation left it; read it, check the files it names, then remove it by hand"}
	}
	return &j, nil
}

func (d *Store) removeJournal() error {
	if err := os.Remove(d.JournalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d.IOError(d.JournalPath(), "cannot remove the journal", err)
	}
	// The removal must be durable before the lock is released: a journal
	// that came back after later transactions would be applied again.
	return syncDir(d.abs)
}

// errLost is a staged file that vanished before it took its name.
var errLost = errors.New("lost before it took its name")

// Apply carries out a journal. It is idempotent, so the same code
// finishes a transaction live and after a crash at any point of it. lost
// lists outputs whose staged file vanished before it took its name: the
// inventory records the certificate, and no file of it exists.
func (d *Store) Apply(j *Journal) ([]string, error) {
	var lost []string
	if j.Append != "" {
		if err := d.applyAppend(j); err != nil {
			return nil, err
		}
	}
	CrashPoint("inventory")
	dirs := map[string]bool{}
	for i, m := range j.Moves {
		if err := d.applyMove(m); errors.Is(err, errLost) {
			lost = append(lost, d.rel(d.abspath(m.Path)))
		} else if err != nil {
			return nil, err
		}
		dirs[filepath.Dir(d.abspath(m.Path))] = true
		CrashPoint(fmt.Sprintf("move-%d", i))
	}
	for dir := range dirs {
		if dir == d.abs {
			continue // removeJournal's sync covers the directory's own renames
		}
		if err := syncDir(dir); err != nil {
			return nil, d.IOError(dir, "cannot sync the directory", err)
		}
	}
	return lost, nil
}

func (d *Store) applyAppend(j *Journal) error {
	path := filepath.Join(d.abs, InventoryName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, atomicfile.ModePublic)
	if err != nil {
		return d.IOError(d.Inventory(), "cannot open", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return d.IOError(d.Inventory(), "cannot read", err)
	}
	if info.Mode().Perm() != atomicfile.ModePublic && j.InventorySize == 0 {
		// Just created: 0644 exactly, not 0644 less a umask of 277.
		if err := f.Chmod(atomicfile.ModePublic); err != nil {
			return d.IOError(d.Inventory(), "cannot set the mode", err)
		}
	}
	want := []byte(j.Append)
	size := info.Size()
	if size > j.InventorySize {
		// Some or all of it is there already: check it is ours.
		n := min(size-j.InventorySize, int64(len(want)))
		got := make([]byte, n)
		if _, err := f.ReadAt(got, j.InventorySize); err != nil && err != io.EOF {
			return d.IOError(d.Inventory(), "cannot read", err)
		}
		if !bytes.Equal(got, want[:n]) || (n == int64(len(want)) && size != j.InventorySize+n) {
			return &pkix.Error{File: d.Inventory(), Msg: fmt.Sprintf("changed since an interrupted %s (pid %d) began; cannot finish it safely", j.Op, j.PID),
				Hint: fmt.Sprintf("compare the inventory with %s, fix it by hand, then remove %s", d.File(journalName), d.File(journalName))}
		}
		if n == int64(len(want)) {
			return nil
		}
		// A torn append: put the whole of it back.
		if err := f.Truncate(j.InventorySize); err != nil {
			return d.IOError(d.Inventory(), "cannot repair", err)
		}
	} else if size < j.InventorySize {
		return &pkix.Error{File: d.Inventory(), Msg: fmt.Sprintf("is shorter than when an interrupted %s (pid %d) began; cannot finish it safely", j.Op, j.PID),
			Hint: "restore the inventory from git, then run the command again"}
	}
	if _, err := f.WriteAt(want, j.InventorySize); err != nil {
		f.Truncate(j.InventorySize)
		return d.IOError(d.Inventory(), "cannot append", err)
	}
	if err := f.Sync(); err != nil {
		return d.IOError(d.Inventory(), "cannot sync", err)
	}
	return nil
}

func (d *Store) applyMove(m Move) error {
	if m.How == moveRetire {
		return d.applyRetire(m)
	}
	if m.How == moveRekey || m.How == moveUnlink {
		return d.applyRekey(m)
	}
	temp, path := d.abspath(m.Temp), d.abspath(m.Path)
	if err := d.checkMove(temp, path); err != nil {
		return err
	}
	if _, err := os.Lstat(temp); errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) && m.How == MoveNew {
			// Neither the temporary file nor the output: something
			// removed the staged file under a committed journal.
			return errLost
		}
		return nil // done already
	}
	switch m.How {
	case MoveNew:
		ok, err := atomicfile.RenameNoReplace(temp, path)
		if ok && errors.Is(err, fs.ErrExist) {
			if same(temp, path) { // a crash between link and unlink
				os.Remove(temp)
				return nil
			}
			return &pkix.Error{File: d.rel(path), Msg: "was taken by another program while mtlsctl was writing it",
				Hint: fmt.Sprintf("mtlsctl's version is in %s: compare the two, keep one, remove the other, then run the command again", d.rel(temp))}
		}
		if err != nil {
			return d.IOError(path, "cannot write", err)
		}
		if !ok {
			if err := os.Link(temp, path); err != nil {
				return d.IOError(path, "cannot write", err)
			}
			os.Remove(temp)
		}
	case MoveBackup:
		backup := d.abspath(m.Backup)
		if filepath.Dir(backup) != filepath.Dir(path) || !strings.HasPrefix(filepath.Base(backup), filepath.Base(path)+".bak") {
			return &pkix.Error{File: d.File(journalName), Msg: fmt.Sprintf("asks to keep %s as %s, which mtlsctl never does", path, backup),
				Hint: "the journal was edited or damaged: check the files it names, then remove it by hand"}
		}
		if _, err := os.Lstat(backup); errors.Is(err, fs.ErrNotExist) {
			if err := os.Link(path, backup); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return d.IOError(path, "cannot keep a backup", err)
			}
		}
		fallthrough
	case MoveReplace:
		if err := os.Rename(temp, path); err != nil {
			return d.IOError(path, "cannot write", err)
		}
	default:
		return fmt.Errorf("journal: unknown move %q", m.How)
	}
	return nil
}

// applyRetire moves a file out of a renewed set: linked to its backup
// name, then unlinked. Idempotent like every move.
func (d *Store) applyRetire(m Move) error {
	path, backup := d.abspath(m.Path), d.abspath(m.Backup)
	// Only what a renewal retires: a PKCS#12, a fullchain or (a key now
	// on the device) a key of the directory, kept beside itself.
	retirable := strings.HasSuffix(path, ".p12") || strings.HasSuffix(path, "-fullchain.pem") || strings.HasSuffix(path, "-key.pem")
	if !retirable || filepath.Dir(path) != d.abs || filepath.Dir(backup) != d.abs || !strings.HasPrefix(filepath.Base(backup), filepath.Base(path)+".bak") {
		return d.checkMove("", path)
	}
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Lstat(backup); errors.Is(err, fs.ErrNotExist) {
		if err := os.Link(path, backup); err != nil {
			return d.IOError(path, "cannot keep a backup", err)
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d.IOError(path, "cannot move aside", err)
	}
	return nil
}

// checkMove confines what a journal may rename — a journal edited by
// hand must not move arbitrary files: a temporary file of ours (in the
// staging area, or hidden beside its output) onto a name in the directory,
// or beside itself for an output published elsewhere.
func (d *Store) checkMove(temp, path string) error {
	temp, path = filepath.Clean(temp), filepath.Clean(path)
	staging := filepath.Join(d.abs, StagingName)
	base := filepath.Base(temp)
	tempLike := strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-")
	// In the staging area: exactly one stage directory down, a temp name.
	inStaging := filepath.Dir(filepath.Dir(temp)) == staging && strings.HasPrefix(filepath.Base(filepath.Dir(temp)), "stage-") && tempLike
	beside := filepath.Dir(temp) == filepath.Dir(path) && tempLike
	inDir := filepath.Dir(path) == d.abs
	if !(inStaging && inDir) && !beside {
		return &pkix.Error{File: d.File(journalName), Msg: fmt.Sprintf("asks to move %s to %s, which mtlsctl never does", temp, path),
			Hint: "the journal was edited or damaged: check the files it names, then remove it by hand"}
	}
	return nil
}

// same reports whether two files have the same content.
func same(a, b string) bool {
	x, err1 := os.ReadFile(a)
	y, err2 := os.ReadFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(x, y)
}

// rel and abspath convert between the journal's names (relative to the
// directory when inside it) and paths.
func (d *Store) journalName(path string) string {
	if name, ok := d.Local(path); ok {
		return name
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return path
	}
	if rel, err := filepath.Rel(d.abs, abs); err == nil && filepath.IsLocal(rel) {
		return rel
	}
	return abs
}

// Local is the name of a file of the directory, however its path is
// spelled (--dir through a symlink, --out by the real path): the same
// directory by its real path.
func (d *Store) Local(path string) (string, bool) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", false
	}
	dir := filepath.Dir(abs)
	if dir == d.abs {
		return filepath.Base(abs), true
	}
	real, err1 := filepath.EvalSymlinks(dir)
	mine, err2 := filepath.EvalSymlinks(d.abs)
	if err1 == nil && err2 == nil && real == mine {
		return filepath.Base(abs), true
	}
	return "", false
}

func (d *Store) abspath(name string) string {
	if filepath.IsAbs(name) {
		return filepath.Clean(name)
	}
	return filepath.Join(d.abs, name) // Join cleans: no ".." survives
}

// rel is a path as messages show it: under the directory as the user
// named it.
func (d *Store) rel(abs string) string {
	if r, err := filepath.Rel(d.abs, abs); err == nil && filepath.IsLocal(r) {
		return d.File(r)
	}
	return abs
}

func (d *Store) IOError(path, what string, err error) error {
	e := &pkix.Error{File: d.rel(path), Msg: fmt.Sprintf("%s: %v", what, Unwrap(err)), Err: err}
	d.permissionDenied(e, path, err)
	return e
}

func Unwrap(err error) error { return atomicfile.UnwrapPathError(err) }

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// CrashPoint kills the process at a named point of a transaction when
// MTLSCTL_TEST_CRASH names it: the crash tests use it to stop a real
// mtlsctl exactly where a power cut or kill -9 could, which random
// timing alone would rarely hit. Unset, it costs one getenv.
func CrashPoint(name string) {
	if v := os.Getenv("MTLSCTL_TEST_CRASH"); v != "" && v == name {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is on its way
	}
}

// SignalPoint sends this process a real SIGTERM at a named point when
// MTLSCTL_TEST_SIGTERM names it, and waits for the command's context to
// see it: the tests use it to signal a real mtlsctl between two steps.
func SignalPoint(ctx context.Context, name string) {
	if v := os.Getenv("MTLSCTL_TEST_SIGTERM"); v != "" && v == name {
		syscall.Kill(os.Getpid(), syscall.SIGTERM)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
	}
}
