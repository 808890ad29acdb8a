package dirtx

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// A directory used by two users (a command once run with sudo, then as
// the CI user) ends with files one of them cannot read or replace. A bare
// "permission denied" says nothing of that: permissionDenied names the
// owner of the file (or of the directory it is to be made in), and what
// to do.

// permissionDenied adds the owner and a way out to e, an I/O error about
// path, when err is a permission error.
func (d *Store) permissionDenied(e *pkix.Error, path string, err error) {
	if !errors.Is(err, fs.ErrPermission) {
		return
	}
	info, statErr := os.Lstat(path)
	if statErr != nil {
		// Not there (or not reachable): the directory it goes in is the
		// one that refuses.
		path = filepath.Dir(path)
		if info, statErr = os.Lstat(path); statErr != nil {
			return
		}
	}
	uid, ok := fileOwner(info)
	if !ok || uid == os.Geteuid() {
		return
	}
	owner := userName(uid)
	e.Msg += fmt.Sprintf(" (%s belongs to %s, mode %04o; this is %s)", d.rel(path), owner, info.Mode().Perm(), userName(os.Geteuid()))
	// The directory's own owner is who the files are most likely meant for.
	keeper := "USER"
	if dirInfo, err := os.Stat(d.abs); err == nil {
		if dirUID, ok := fileOwner(dirInfo); ok {
			keeper = userName(dirUID)
		}
	}
	if r, _ := filepath.Rel(d.abs, path); strings.HasPrefix(r, journalName) || strings.HasPrefix(r, StagingName) {
		e.Hint = fmt.Sprintf("a command run as %s was interrupted here: run the next mtlsctl command in %s as %s, which finishes it; then give the directory back to one user: chown -R %s %s",
			owner, d.path, owner, keeper, d.path)
		return
	}
	e.Hint = fmt.Sprintf("run mtlsctl as %s, or give the directory to one user: chown -R %s %s", owner, keeper, d.path)
}

func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return "uid " + strconv.Itoa(uid)
}
