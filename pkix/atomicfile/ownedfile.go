package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Outputs mtlsctl rewrites on its own, without --force and without a
// backup (serve's --addr-file and DIR/serve-ca.pem), are "owned": they may
// be replaced only when the name is free or already holds what the program
// itself would have written there. They never follow a symlink (the link
// was not made by the program; where it points is someone else's file),
// never replace a directory, a device or a file whose content is not
// theirs, and are written atomically: a temporary file in the same
// directory, created O_EXCL and set to its final mode with fchmod, synced,
// renamed into place, and the directory synced.

// ErrNotOwned is the cause of every refusal by CheckOwned and ReplaceOwned:
// the name is taken by something that is not the program's own output.
var ErrNotOwned = errors.New("not the program's own output")

// maxOwnedRead bounds how much of an existing file is read to recognise it:
// every owned output is small, so anything larger is not one.
const maxOwnedRead = 64 << 10

// CheckOwned fails, with an *Error naming path, unless ReplaceOwned would
// currently be allowed to write path: path is absent, or is a regular file
// (not a symlink) no larger than 64 KiB whose content owned accepts. It
// writes nothing, so a command can refuse before doing anything else.
func CheckOwned(path, what string, owned func(current []byte) bool, hint string) error {
	return checkOwned(path, what, owned, hint)
}

// ReplaceOwned atomically writes data to path when path is absent, or is a
// regular file (never a symlink) whose current content owned() accepts;
// otherwise it changes nothing and returns an *Error whose Msg says what is
// wrong and whose Hint is hint. what names the output in messages ("an
// address file written by mtlsctl serve"). Refusals wrap ErrNotOwned;
// file-system failures wrap the *fs.PathError, so errors.Is works on both.
//
// The check is repeated with Lstat and a fresh read right before the
// rename. What remains is the window between that re-check and rename(2)
// itself; in it another process could put a new entry at path, which the
// rename would then replace. rename never follows a symlink at the
// destination and never writes into the file it replaces, so even then no
// other file's content changes and nothing is written through a link: at
// worst the racing process loses the directory entry it made in that
// instant.
func ReplaceOwned(path string, data []byte, mode fs.FileMode, what string, owned func(current []byte) bool, hint string) error {
	if err := checkOwned(path, what, owned, hint); err != nil {
		return err
	}
	tmp, err := writeOwnedTemp(path, data, mode)
	if err != nil {
		return err
	}
	if err := checkOwned(path, what, owned, hint); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return ownedFSError(path, "cannot write", err)
	}
	if err := syncDir(ownedDir(path)); err != nil {
		return ownedFSError(path, "written, but cannot sync its directory", err)
	}
	return nil
}

// checkOwned is CheckOwned; ReplaceOwned runs it twice.
func checkOwned(path, what string, owned func([]byte) bool, hint string) error {
	refuse := func(msg string) error {
		return &pkix.Error{File: path, Msg: msg, Hint: hint, Err: ErrNotOwned}
	}
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return ownedFSError(path, "cannot check the output", err)
	}
	switch t := info.Mode().Type(); {
	case t&fs.ModeSymlink != 0:
		return refuse(fmt.Sprintf("is a symlink; refusing to write %s through it", what))
	case t.IsDir():
		return refuse(fmt.Sprintf("is a directory, not %s; refusing to replace it", what))
	case !t.IsRegular():
		return refuse(fmt.Sprintf("is not a regular file (%v), not %s; refusing to replace it", t, what))
	}
	// O_NONBLOCK: should the name be swapped for a FIFO after the Lstat,
	// opening it must not hang; the SameFile check below then refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return ownedFSError(path, "cannot read the existing file", err)
	}
	defer f.Close()
	opened, err := f.Stat()
	if err != nil {
		return ownedFSError(path, "cannot read the existing file", err)
	}
	if !os.SameFile(info, opened) || !opened.Mode().IsRegular() {
		return refuse(fmt.Sprintf("changed while being checked; refusing to replace it with %s", what))
	}
	current, err := io.ReadAll(io.LimitReader(f, maxOwnedRead+1))
	if err != nil {
		return ownedFSError(path, "cannot read the existing file", err)
	}
	if len(current) > maxOwnedRead || !owned(current) {
		return refuse(fmt.Sprintf("exists and is not %s; refusing to replace it", what))
	}
	return nil
}

// writeOwnedTemp writes data to a new temporary file next to path, with
// exactly mode (set by fchmod, so the umask does not change it; the file is
// 0600 until then), synced to disk. It returns the temporary file's name.
func writeOwnedTemp(path string, data []byte, mode fs.FileMode) (string, error) {
	dir := ownedDir(path)
	var f *os.File
	var name string
	for range 16 {
		b := make([]byte, 8)
		rand.Read(b)
		name = filepath.Join(dir, "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(b))
		var err error
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", ownedFSError(path, "cannot create a temporary file", err)
		}
		f = nil
	}
	if f == nil {
		return "", &pkix.Error{File: path, Msg: "cannot create a temporary file: every name tried exists", Err: fs.ErrExist}
	}
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", ownedFSError(path, "cannot write", err)
	}
	if err := f.Chmod(mode.Perm()); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", ownedFSError(path, "cannot write", err)
	}
	return name, nil
}

func ownedDir(path string) string {
	if dir := filepath.Dir(path); dir != "" {
		return dir
	}
	return "."
}

// ownedFSError is a file-system failure on path: the message carries the
// bare cause (the path is already the message's prefix), Err the whole
// error for errors.Is/As.
func ownedFSError(path, doing string, err error) *pkix.Error {
	cause := err
	var pe *fs.PathError
	var le *os.LinkError
	if errors.As(err, &pe) {
		cause = pe.Err
	} else if errors.As(err, &le) {
		cause = le.Err
	}
	return &pkix.Error{File: path, Msg: fmt.Sprintf("%s: %v", doing, cause), Err: err}
}
