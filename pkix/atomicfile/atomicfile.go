package atomicfile

import (
	"bufio"
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"
)

// File is one output of a command.
type File struct {
	Path string
	Data []byte
	Mode fs.FileMode
	Kind string // "certificate", "private key", "CSR", ... for printing
	// Stream, when set, writes the content instead of Data, for outputs
	// too large to hold twice (a million-entry CRL); Size is then its size.
	Stream func(io.Writer) error
	Size   int
	// Replace lets the file take the place of an existing one atomically
	// without --force and without a backup: for outputs that are meant to
	// be rebuilt in place, like ca.crl. Never set for keys.
	Replace bool
}

// Len is the file's size in bytes.
func (f File) Len() int {
	if f.Stream != nil {
		return f.Size
	}
	return len(f.Data)
}

// Modes mtlsctl writes with. Private keys are never group or world
// readable; certificates and CSRs are public by nature.
const (
	ModeSecret fs.FileMode = 0o600
	ModePublic fs.FileMode = 0o644
)

// Written describes a file that now exists, and the backup of the file it
// replaced, if any.
type Written struct {
	File
	Backup string
}

// CheckFree fails, naming the first one, if any output already exists. It
// runs before any work so that a long key generation is not wasted.
func CheckFree(files []File) error {
	for _, f := range files {
		if f.Replace {
			continue
		}
		if _, err := os.Lstat(f.Path); err == nil {
			return pkix.Errorf(f.Path, "already exists; refusing to overwrite it").
				WithText(pkix.MoveAway)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return pkix.Errorf(f.Path, "cannot check the output: %v", UnwrapPathError(err))
		}
	}
	return nil
}

// WriteFiles writes every file or none. Each is written to a temporary file
// in its own directory, made durable, and only then moved into place, so a
// crash never leaves a half-written key. Without force an existing file is
// never replaced (hard-linking the temp file into place fails if the name
// is taken, which also closes the race with a concurrent mtlsctl); with
// force the old file is first kept as NAME.bak (or NAME.bak.TIMESTAMP). If
// any step fails, what was already moved into place is undone.
func WriteFiles(files []File, force bool) ([]Written, error) {
	written, errs := WriteSets([][]File{files}, force)
	return written[0], errs[0]
}

// WriteSets writes several independent sets of files (one certificate's
// files each): every set lands whole or not at all, and a set that fails
// does not undo the others.
func WriteSets(sets [][]File, force bool) ([][]Written, []error) {
	staged := make([]*Staged, len(sets))
	for i, set := range sets {
		staged[i] = Stage(set, force)
	}
	return CommitStaged(staged, force)
}

// Staged is a set of files written to temporary names, not yet in place.
// Staging can run on many goroutines at once (next to the cryptography of
// a batch); CommitStaged then places every set.
type Staged struct {
	files []File
	temps []string
	err   error
}

// Stage writes a set's temporary files. Where the whole file system can be
// synced in one call (Linux syncfs) the files are not fsynced one by one:
// an fsync per file costs more than an ECDSA certificate's cryptography.
func Stage(files []File, force bool) *Staged { return StageIn(files, force, nil) }

// StageIn is Stage with the temporary files of some outputs in another
// directory of the same file system: tempDir returns it for a path, or ""
// for beside the output. (The PKI directory keeps its temporary files in a
// staging area that a later mtlsctl can sweep without listing a
// 300,000-file directory.)
func StageIn(files []File, force bool, tempDir func(path string) string) *Staged {
	st := &Staged{files: slices.Clone(files)}
	st.temps = make([]string, len(st.files))
	for j, f := range st.files {
		dir := ""
		if tempDir != nil {
			dir = tempDir(f.Path)
		}
		t, err := writeTemp(f, !canSyncFS(), dir)
		if err != nil {
			removeAll(st.temps)
			st.temps, st.err = nil, err
			return st
		}
		st.temps[j] = t
	}
	return st
}

// TempPrefix names the temporary files of an output: hidden, next to it,
// and carrying the writer's process ID, so that a later mtlsctl can tell
// the leftovers of a process that is gone from a live one's.
func TempPrefix(base string) string {
	return "." + base + ".tmp-" + strconv.Itoa(os.Getpid()) + "-*"
}

// Err is why staging failed, if it did.
func (st *Staged) Err() error { return st.err }

// Files are the staged outputs.
func (st *Staged) Files() []File { return st.files }

// Temps are the temporary names, in the order of Files.
func (st *Staged) Temps() []string { return st.temps }

// Fail marks the set failed and removes its temporary files.
func (st *Staged) Fail(err error) {
	st.Discard()
	st.err = err
}

// Discard removes a staged set's temporary files.
func (st *Staged) Discard() {
	removeAll(st.temps)
	st.temps = nil
}

// CommitStaged makes the staged files durable with one sync per file system
// (not per file), moves each set into place (a set that fails is undone,
// the others stay), then syncs each directory so the new names survive a
// crash too. Files only take their names once their data is on disk.
func CommitStaged(staged []*Staged, force bool) ([][]Written, []error) {
	written := make([][]Written, len(staged))
	errs := make([]error, len(staged))
	for i, st := range staged {
		errs[i] = st.err
	}
	if err := SyncStaged(staged); err != nil {
		for k, other := range staged {
			if errs[k] == nil {
				other.Discard()
				errs[k] = err
			}
		}
		return written, errs
	}
	dirs := map[string]bool{}
	for i, st := range staged {
		if errs[i] != nil {
			continue
		}
		written[i], errs[i] = placeSet(st.files, st.temps, force)
		st.temps = nil
		if errs[i] == nil {
			for _, f := range st.files {
				dirs[filepath.Dir(f.Path)] = true
			}
		}
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		if err := syncDir(dir); err != nil {
			for i, st := range staged {
				if errs[i] == nil && len(st.files) > 0 && filepath.Dir(st.files[0].Path) == dir {
					errs[i] = pkix.Errorf(dir, "cannot sync the directory: %v", UnwrapPathError(err))
				}
			}
		}
	}
	return written, errs
}

func removeAll(paths []string) {
	for _, p := range paths {
		if p != "" {
			os.Remove(p)
		}
	}
}

// placeSet moves one set's temp files into place, undoing the set on any
// failure.
func placeSet(files []File, temps []string, force bool) ([]Written, error) {
	var undo []func()
	rollback := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
		removeAll(temps)
	}
	written := make([]Written, 0, len(files))
	for i, f := range files {
		w := Written{File: f}
		if f.Replace && !force {
			// Replacing renames over the name: a symlink there would be
			// replaced by a file, or (followed) let a planted link pick
			// what gets overwritten. Neither without being asked.
			if info, err := os.Lstat(f.Path); err == nil && !info.Mode().IsRegular() {
				rollback()
				return nil, pkix.Errorf(f.Path, "is not a regular file (a symlink?); refusing to replace it").
					WithHint("remove it or point the output elsewhere")
			}
			if err := os.Rename(temps[i], f.Path); err != nil {
				rollback()
				return nil, pkix.Errorf(f.Path, "cannot write: %v", UnwrapPathError(err))
			}
		} else if force {
			backup, err := backupExisting(f.Path)
			if err != nil {
				rollback()
				return nil, err
			}
			w.Backup = backup
			if err := os.Rename(temps[i], f.Path); err != nil {
				if backup != "" {
					os.Remove(backup)
				}
				rollback()
				return nil, pkix.Errorf(f.Path, "cannot write: %v", UnwrapPathError(err))
			}
			path := f.Path
			undo = append(undo, func() {
				if backup != "" {
					os.Rename(backup, path)
				} else {
					os.Remove(path)
				}
			})
		} else {
			if err := placeNoClobber(temps[i], f.Path); err != nil {
				rollback()
				return nil, err
			}
			path := f.Path
			undo = append(undo, func() { os.Remove(path) })
		}
		temps[i] = ""
		written = append(written, w)
	}
	return written, nil
}

func writeTemp(f File, sync bool, tempDir string) (string, error) {
	dir, base := filepath.Split(f.Path)
	if dir == "" {
		dir = "."
	}
	if tempDir != "" {
		dir = tempDir
	}
	tmp, err := os.CreateTemp(dir, TempPrefix(base))
	if err != nil {
		return "", pkix.Errorf(f.Path, "cannot create: %v", UnwrapPathError(err))
	}
	name := tmp.Name()
	fail := func(err error) (string, error) {
		tmp.Close()
		os.Remove(name)
		return "", pkix.Errorf(f.Path, "cannot write: %v", UnwrapPathError(err))
	}
	// CreateTemp makes the file 0600 less the umask, so a key is never
	// readable by others, not even for the moment before the chmod; the
	// chmod then sets exactly the mode reported (a umask of 277 must not
	// turn a reported 0600 into 0400).
	if f.Stream != nil {
		bw := bufio.NewWriterSize(tmp, 1<<20)
		if err := f.Stream(bw); err != nil {
			return fail(err)
		}
		if err := bw.Flush(); err != nil {
			return fail(err)
		}
	} else if _, err := tmp.Write(f.Data); err != nil {
		return fail(err)
	}
	if err := tmp.Chmod(f.Mode); err != nil {
		return fail(err)
	}
	if sync {
		if err := tmp.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fail(err)
	}
	return name, nil
}

func placeNoClobber(tmp, path string) error {
	if ok, err := renameNoReplace(tmp, path); ok {
		if errors.Is(err, fs.ErrExist) {
			return pkix.Errorf(path, "already exists; refusing to overwrite it").
				WithText(pkix.MoveAway)
		}
		if err != nil {
			return pkix.Errorf(path, "cannot write: %v", err)
		}
		return nil
	}
	err := os.Link(tmp, path)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return pkix.Errorf(path, "already exists; refusing to overwrite it").
			WithText(pkix.MoveAway)
	}
	// Filesystems without hard links: check, then rename. The window
	// between the two is the best such a filesystem allows.
	if _, statErr := os.Lstat(path); statErr == nil {
		return pkix.Errorf(path, "already exists; refusing to overwrite it")
	}
	if err := os.Rename(tmp, path); err != nil {
		return pkix.Errorf(path, "cannot write: %v", UnwrapPathError(err))
	}
	return nil
}

// backupExisting keeps the current file at path under a free backup name,
// by hard link where possible (same inode, same mode: a key's backup stays
// 0600) and by copy otherwise. It returns "" when there was nothing to keep.
func backupExisting(path string) (string, error) {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", pkix.Errorf(path, "cannot check the output: %v", UnwrapPathError(err))
	}
	if !info.Mode().IsRegular() {
		return "", pkix.Errorf(path, "exists and is not a regular file; refusing to replace it")
	}
	backup := path + ".bak"
	if _, err := os.Lstat(backup); err == nil {
		backup = path + ".bak." + time.Now().UTC().Format("20060102T150405.000000000Z")
	}
	if err := os.Link(path, backup); err == nil {
		return backup, nil
	}
	if err := copyFile(path, backup, info.Mode().Perm()); err != nil {
		return "", pkix.Errorf(path, "cannot keep a backup before replacing it: %v", UnwrapPathError(err))
	}
	return backup, nil
}

func copyFile(src, dst string, mode fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}

// SyncDir makes renames in dir durable: without it a power cut can lose
// the directory entry even though the file's data was synced.
func SyncDir(dir string) error { return syncDir(dir) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

func UnwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// Exists reports whether path names an existing file.
func Exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func syncDirFS(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return UnwrapPathError(err)
	}
	defer d.Close()
	return syncFS(d)
}

// Unwrite takes back files WriteFiles wrote: new ones are removed, replaced
// ones get their backup back.
func Unwrite(ws []Written) {
	for i := len(ws) - 1; i >= 0; i-- {
		w := ws[i]
		if w.Backup != "" {
			os.Rename(w.Backup, w.Path)
		} else if !w.Replace {
			os.Remove(w.Path)
		}
	}
}

// RenameNoReplace moves tmp to path only if path is free. ok is false
// where the system has no such rename (the caller then links).
func RenameNoReplace(tmp, path string) (ok bool, err error) { return renameNoReplace(tmp, path) }

// SyncStaged makes every staged temporary file durable: one syncfs per
// directory where the system has it (the files were not fsynced one by
// one), nothing otherwise (they were).
func SyncStaged(staged []*Staged) error {
	if !canSyncFS() {
		return nil
	}
	synced := map[string]bool{}
	for _, st := range staged {
		if st.err != nil {
			continue
		}
		for _, f := range st.files {
			dir := filepath.Dir(f.Path)
			if synced[dir] {
				continue
			}
			synced[dir] = true
			if err := syncDirFS(dir); err != nil {
				return pkix.Errorf(dir, "cannot sync the file system: %v", err)
			}
		}
	}
	return nil
}
