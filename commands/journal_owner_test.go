package commands

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A journal left by a command root ran (and that was interrupted), then a
// command run by another user, for real: the error names
// the journal, its owner and what to do, and doing it works.
func TestJournalOfAnotherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs this as root: it needs a second, real user")
		}
		t.Skip("needs root, to run a command as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)

	// Everything the other user runs must be reachable by it.
	top := t.TempDir()
	for p := top; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	bin := filepath.Join(top, "mtlsctl")
	copyExecutable(t, os.Args[0], bin)
	dir := filepath.Join(top, "pki")
	os.Mkdir(dir, 0o755)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}

	run := func(asNobody bool, env []string, args ...string) (int, string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1", "HOME="+top), env...)
		if asNobody {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
		var errb bytes.Buffer
		cmd.Stderr = &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("mtlsctl %v: %v", args, err)
		}
		return code, errb.String()
	}

	if code, errs := run(true, nil, "ca", "init", "--key-type", "ecdsa-256"); code != 0 {
		t.Fatalf("ca init as nobody: %d\n%s", code, errs)
	}
	// root issues, and is killed once the journal is written
	if code, _ := run(false, []string{"MTLSCTL_TEST_CRASH=journal"}, "client", "issue", "--cn", "dev-1", "--key-type", "ecdsa-256"); code == 0 {
		t.Fatal("the crash point was not reached")
	}
	before := treeOf(t, dir)
	code, errs := run(true, nil, "client", "issue", "--cn", "dev-2", "--key-type", "ecdsa-256")
	want := "mtlsctl: error: .mtlsctl-journal: cannot read the journal of an interrupted command: permission denied (.mtlsctl-journal belongs to root, mode 0600; this is nobody)\n"
	if code != 2 || !strings.HasPrefix(errs, want) {
		t.Fatalf("as nobody: exit %d\n%s\nwant exit 2 and\n%s", code, errs, want)
	}
	if !strings.Contains(errs, "hint: a command run as root was interrupted here: run the next mtlsctl command in . as root, which finishes it; then give the directory back to one user: chown -R nobody .") {
		t.Errorf("no hint saying what to do:\n%s", errs)
	}
	if after := treeOf(t, dir); after != before {
		t.Errorf("the failed command changed the directory:\n%s\n---\n%s", before, after)
	}

	// Doing what the hint says works.
	if code, errs := run(false, nil, "client", "issue", "--cn", "dev-3", "--key-type", "ecdsa-256"); code != 0 {
		t.Fatalf("as root: %d\n%s", code, errs)
	}
	if out, err := exec.Command("chown", "-R", "nobody", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	if code, errs := run(true, nil, "client", "issue", "--cn", "dev-2", "--key-type", "ecdsa-256"); code != 0 {
		t.Fatalf("as nobody after the hint: %d\n%s", code, errs)
	}
	if code, errs := run(true, nil, "check"); code != 0 {
		t.Fatalf("check as nobody: %d\n%s", code, errs)
	}
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
