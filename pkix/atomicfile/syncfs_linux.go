package atomicfile

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

func canSyncFS() bool { return true }

// syncFS flushes every dirty page of the file system holding dir: one call
// makes a whole batch of temporary files durable.
func syncFS(dir *os.File) error { return unix.Syncfs(int(dir.Fd())) }

// renameNoReplace moves tmp to path in one step, failing with EEXIST when
// path exists (renameat2 RENAME_NOREPLACE): one syscall instead of a link
// and an unlink, with the same no-clobber guarantee. ok is false where the
// file system does not support it.
func renameNoReplace(tmp, path string) (ok bool, err error) {
	err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_NOREPLACE)
	if err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP {
		return false, nil
	}
	if err == unix.EEXIST {
		return true, fs.ErrExist
	}
	return true, err
}
