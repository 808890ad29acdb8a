package atomicfile

import (
	"bytes"
	"errors"
	"github.com/mtlsctl/mtlsctl/pkix"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// isOurs is the owned() of these tests: a file is ours when it says so.
func isOurs(b []byte) bool { return bytes.HasPrefix(b, []byte("ours ")) }

const (
	oursOld = "ours 1\n"
	oursNew = "ours 2\n"
	theirs  = "-----BEGIN EC PRIVATE KEY-----\nsecret\n-----END EC PRIVATE KEY-----\n"
)

func TestOwnedCases(t *testing.T) {
	cases := []struct {
		name string
		// setup makes dir/out and anything it points to; a refusal must
		// leave all of dir as it was.
		setup   func(t *testing.T, dir string)
		allowed bool
		msg     string
	}{
		{"absent", func(t *testing.T, dir string) {}, true, ""},
		{"ours", func(t *testing.T, dir string) {
			ownedWrite(t, filepath.Join(dir, "out"), oursOld, 0o644)
		}, true, ""},
		{"not ours", func(t *testing.T, dir string) {
			ownedWrite(t, filepath.Join(dir, "out"), theirs, 0o600)
		}, false, "exists and is not our file; refusing to replace it"},
		{"too large to be ours", func(t *testing.T, dir string) {
			ownedWrite(t, filepath.Join(dir, "out"), "ours "+strings.Repeat("x", maxOwnedRead), 0o644)
		}, false, "exists and is not our file"},
		{"symlink to ours", func(t *testing.T, dir string) {
			ownedWrite(t, filepath.Join(dir, "target"), oursOld, 0o644)
			ownedLink(t, "target", filepath.Join(dir, "out"))
		}, false, "is a symlink; refusing to write our file through it"},
		{"symlink to elsewhere", func(t *testing.T, dir string) {
			ownedWrite(t, filepath.Join(dir, "ca-key.pem"), theirs, 0o600)
			ownedLink(t, "ca-key.pem", filepath.Join(dir, "out"))
		}, false, "is a symlink"},
		{"dangling symlink", func(t *testing.T, dir string) {
			ownedLink(t, filepath.Join(dir, "nowhere"), filepath.Join(dir, "out"))
		}, false, "is a symlink"},
		{"directory", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "out"), 0o755); err != nil {
				t.Fatal(err)
			}
			ownedWrite(t, filepath.Join(dir, "out", "inside"), oursOld, 0o644)
		}, false, "is a directory, not our file; refusing to replace it"},
		{"socket", func(t *testing.T, dir string) {
			l, err := net.Listen("unix", filepath.Join(dir, "out"))
			if err != nil {
				t.Skip("no unix sockets:", err)
			}
			t.Cleanup(func() { l.Close() })
		}, false, "is not a regular file"},
	}
	for _, tc := range cases {
		for _, op := range []string{"CheckOwned", "ReplaceOwned"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				dir := t.TempDir()
				out := filepath.Join(dir, "out")
				tc.setup(t, dir)
				before := ownedDirState(t, dir)
				const hint = "move it away"
				var err error
				if op == "CheckOwned" {
					err = CheckOwned(out, "our file", isOurs, hint)
				} else {
					err = ReplaceOwned(out, []byte(oursNew), 0o644, "our file", isOurs, hint)
				}
				if tc.allowed {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if op == "ReplaceOwned" {
						if got := ownedRead(t, out); got != oursNew {
							t.Errorf("content %q, want %q", got, oursNew)
						}
						if info, _ := os.Lstat(out); info.Mode() != 0o644 {
							t.Errorf("mode %v, want -rw-r--r--", info.Mode())
						}
					} else if now := ownedDirState(t, dir); now != before {
						t.Errorf("CheckOwned changed the directory:\n%s\nnow:\n%s", before, now)
					}
					return
				}
				var pe *pkix.Error
				if !errors.As(err, &pe) {
					t.Fatalf("got %v (%T), want a refusal *Error", err, err)
				}
				if pe.File != out || !strings.Contains(pe.Msg, tc.msg) || pe.Hint != hint || !errors.Is(err, ErrNotOwned) {
					t.Errorf("got File=%q Msg=%q Hint=%q Is(ErrNotOwned)=%v; want %q, %q, %q, true",
						pe.File, pe.Msg, pe.Hint, errors.Is(err, ErrNotOwned), out, tc.msg, hint)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("not one line: %q", err)
				}
				if now := ownedDirState(t, dir); now != before {
					t.Errorf("a refusal changed the directory:\nbefore:\n%s\nnow:\n%s", before, now)
				}
			})
		}
	}
}

// ReplaceOwned looks again right before the rename: a file that was ours
// when first checked but is swapped for a symlink (or a foreign file) while
// the new content is being written is not replaced.
func TestReplaceOwnedRechecksBeforeRename(t *testing.T) {
	for _, swap := range []string{"symlink", "foreign"} {
		t.Run(swap, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			ownedWrite(t, out, oursOld, 0o644)
			ownedWrite(t, filepath.Join(dir, "ca-key.pem"), theirs, 0o600)
			calls := 0
			before := ""
			owned := func(b []byte) bool {
				calls++
				if calls == 1 { // the first check passes, then the name is taken over
					os.Remove(out)
					if swap == "symlink" {
						ownedLink(t, "ca-key.pem", out)
					} else {
						ownedWrite(t, out, theirs, 0o600)
					}
					before = ownedDirState(t, dir)
				}
				return isOurs(b)
			}
			err := ReplaceOwned(out, []byte(oursNew), 0o644, "our file", owned, "")
			if !errors.Is(err, ErrNotOwned) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if now := ownedDirState(t, dir); now != before {
				t.Errorf("changed after the swap:\nbefore:\n%s\nnow:\n%s", before, now)
			}
		})
	}
}

// Without write permission on the directory the failure is a file-system
// error errors.Is can see through, and nothing is left behind.
func TestReplaceOwnedFSErrors(t *testing.T) {
	dir := t.TempDir()
	err := ReplaceOwned(filepath.Join(dir, "missing", "out"), []byte(oursNew), 0o644, "our file", isOurs, "")
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing directory: got %v, want fs.ErrNotExist", err)
	}
	var pe *pkix.Error
	if !errors.As(err, &pe) || pe.File != filepath.Join(dir, "missing", "out") || strings.Contains(pe.Msg, dir) {
		t.Errorf("want an *Error naming the file once, got %v", err)
	}
	if runtime.GOOS != "windows" && os.Getuid() != 0 {
		ro := filepath.Join(dir, "ro")
		os.Mkdir(ro, 0o755)
		ownedWrite(t, filepath.Join(ro, "out"), oursOld, 0o644)
		os.Chmod(ro, 0o555)
		defer os.Chmod(ro, 0o755)
		err := ReplaceOwned(filepath.Join(ro, "out"), []byte(oursNew), 0o644, "our file", isOurs, "")
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("read-only directory: got %v, want fs.ErrPermission", err)
		}
		if got := ownedRead(t, filepath.Join(ro, "out")); got != oursOld {
			t.Errorf("content changed to %q", got)
		}
	}
}

// The mode is exactly the one asked for, even one the umask would narrow
// (fchmod, not the create mode), and no temporary file is left.
func TestReplaceOwnedModeAndNoLeftovers(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("POSIX modes")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	for _, mode := range []fs.FileMode{0o666, 0o600, 0o644} {
		if err := ReplaceOwned(out, []byte(oursNew), mode, "our file", isOurs, ""); err != nil {
			t.Fatal(err)
		}
		info, err := os.Lstat(out)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != mode {
			t.Errorf("mode %v, want %v", info.Mode(), mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only out: %v", len(entries), entries)
	}
}

func ownedWrite(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func ownedRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ownedLink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Skip("no symlinks:", err)
	}
}

// dirState lists every entry under dir with its mode, link target or
// content, to show that nothing changed.
func ownedDirState(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b.WriteString(rel + " " + info.Mode().String())
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(path)
			b.WriteString(" -> " + target)
		case info.Mode().IsRegular():
			b.WriteString(" " + ownedRead(t, path))
		}
		b.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}
