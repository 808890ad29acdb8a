package dirtx

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
)

// The staging area: every operation writes its temporary files in a
// directory of its own, DIR/.mtlsctl-tmp/stage-N, and holds a flock on it
// for as long as it lives. The kernel drops that lock when the process
// dies, however it dies, so the next mtlsctl tells a dead operation's
// leftovers from a live one's by trying the lock — not by a process ID,
// which another PID namespace (a container sharing the volume) or a
// reused PID would get wrong — and finds them without listing a directory
// of 300,000 certificate files.
const StagingName = ".mtlsctl-tmp"

type Stage struct {
	d    *Store
	Path string
	Lock *flock.Flock
}

// NewStage makes the operation's staging directory and locks it.
func (d *Store) NewStage() (*Stage, error) {
	root := filepath.Join(d.abs, StagingName)
	var err error
	for range 5 { // another process may remove an empty root meanwhile
		var st *Stage
		if st, err = d.tryStage(root); err == nil {
			return st, nil
		}
		var pe *pkix.Error
		if errors.As(err, &pe) {
			return nil, err
		}
	}
	return nil, d.IOError(root, "cannot make the staging directory", err)
}

// tryStage makes the directory under a name sweep ignores ("new-"),
// locks it, and only then renames it to "stage-": a sweep never sees a
// staging directory before its lock is held.
func (d *Store) tryStage(root string) (*Stage, error) {
	// Never through a planted link: keys are staged here.
	if info, err := os.Lstat(root); err == nil && !info.IsDir() {
		return nil, &pkix.Error{File: d.File(StagingName), Msg: "is not a directory mtlsctl made (a symlink?); keys are staged there, so it will not follow it",
			Hint: "remove it"}
	}
	// Modes set explicitly: under umask 277 MkdirAll's 0700 would be
	// 0500, a directory nobody but root can stage in.
	if err := os.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, err
	}
	fresh, err := os.MkdirTemp(root, "new-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(fresh, 0o700); err != nil {
		os.Remove(fresh)
		return nil, err
	}
	lock := flock.New(fresh, flock.SetFlag(os.O_RDONLY))
	if ok, err := lock.TryLock(); err != nil || !ok {
		os.Remove(fresh)
		if err == nil {
			err = errors.New("locked by another process")
		}
		return nil, err
	}
	path := filepath.Join(root, "stage-"+strings.TrimPrefix(filepath.Base(fresh), "new-"))
	if err := os.Rename(fresh, path); err != nil { // the lock is on the inode: it moves along
		lock.Unlock()
		os.Remove(fresh)
		return nil, err
	}
	return &Stage{d: d, Path: path, Lock: lock}, nil
}

// Begin opens a transaction: the operation's staging directory, then the
// directory's lock; end releases both.
func (d *Store) Begin(ctx context.Context) (*Stage, *Session, func(), error) {
	st, err := d.NewStage()
	if err != nil {
		return nil, nil, nil, err
	}
	sess, err := d.Lock(ctx)
	if err != nil {
		st.Release()
		return nil, nil, nil, err
	}
	return st, sess, func() { sess.Unlock(); st.Release() }, nil
}

// tempDir is where an output's temporary file goes: the staging area for
// the directory's own files, beside the output for one elsewhere (a CRL
// published through a symlink, an --out in another directory), which may
// be on another file system.
func (st *Stage) tempDir(path string) string {
	if _, ok := st.d.Local(path); ok {
		return st.Path
	}
	return ""
}

// Files stages a set. Temporary files that had to go beside an output
// elsewhere are listed in the stage directory, so that if this process
// dies, the sweep that removes the stage removes them too (one may hold a
// key, in a PKCS#12 exported with --out).
func (st *Stage) Files(files []atomicfile.File, force bool) *atomicfile.Staged {
	staged := atomicfile.StageIn(files, force, st.tempDir)
	var outside []string
	for _, t := range staged.Temps() {
		if t != "" && filepath.Dir(t) != st.Path {
			if abs, err := filepath.Abs(t); err == nil {
				outside = append(outside, abs)
			}
		}
	}
	if len(outside) > 0 {
		f, err := os.OpenFile(filepath.Join(st.Path, outsideList), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err == nil {
			f.WriteString(strings.Join(outside, "\n") + "\n")
			f.Sync()
			f.Close()
		}
	}
	return staged
}

// outsideList names, in a stage directory, its temporary files elsewhere.
const outsideList = "outside"

// removeOutside removes the temporary files a dead stage listed, when
// their names are still mtlsctl's temporary names.
func removeOutside(stageDir string) int {
	data, err := os.ReadFile(filepath.Join(stageDir, outsideList))
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		base := filepath.Base(p)
		if filepath.IsAbs(p) && strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-") && os.Remove(p) == nil {
			n++
		}
	}
	return n
}

// Release removes what is left of the staging directory (nothing, after
// a commit; the temporary files of sets that were not committed
// otherwise), then the staging root if no other operation uses it.
func (st *Stage) Release() {
	if _, err := os.Lstat(st.d.JournalPath()); err == nil {
		// Committed but not finished: the journal needs these files. The
		// next command applies it, then sweeps this directory.
		st.Lock.Unlock()
		return
	}
	os.RemoveAll(st.Path)
	st.Lock.Unlock()
	os.Remove(filepath.Dir(st.Path))
}

func olderThan(e fs.DirEntry, age time.Duration) bool {
	info, err := e.Info()
	return err == nil && time.Since(info.ModTime()) > age
}

// sweep removes the staging directories of operations that are gone,
// and the journal's temporary file, and reports how many files went.
func (d *Store) sweep() int {
	n := 0
	if err := os.Remove(d.JournalPath() + ".tmp"); err == nil {
		n++
	}
	root := filepath.Join(d.abs, StagingName)
	if info, err := os.Lstat(root); err != nil || !info.IsDir() {
		return n // absent, or not ours (a planted link is never followed)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return n
	}
	for _, e := range entries {
		// "new-" directories are being set up; one older than a minute
		// was left by a process that died in between.
		if !e.IsDir() || !(strings.HasPrefix(e.Name(), "stage-") || strings.HasPrefix(e.Name(), "new-") && olderThan(e, time.Minute)) {
			continue
		}
		path := filepath.Join(root, e.Name())
		lock := flock.New(path, flock.SetFlag(os.O_RDONLY))
		if ok, err := lock.TryLock(); err != nil || !ok {
			continue // alive
		}
		if files, err := os.ReadDir(path); err == nil {
			n += len(files)
		}
		n += removeOutside(path)
		os.RemoveAll(path)
		lock.Unlock()
	}
	if err := os.Remove(root); err != nil && !errors.Is(err, fs.ErrNotExist) {
		_ = err // not empty: a live operation's, or ours
	}
	return n
}
