package commands

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// worker build on a real full file system (a 256 KiB tmpfs filled to the
// last block) exits 2 and leaves the directory as it found it: no empty
// worker/.
func TestWorkerBuildOnFullDiskLeavesNothing(t *testing.T) {
	src := t.TempDir()
	must(t, src, "ca", "init", "--key-type", "ecdsa-256")
	must(t, src, "client", "issue", "--cn", "dev-1", "--key-type", "ecdsa-256")
	must(t, src, "client", "revoke", "dev-1", "--crl")

	dir := mountFullTmpfs(t, src)
	before := treeOf(t, dir)
	code, _, errs := mtlsctl(t, dir, nil, "worker", "build", "--store", "inline")
	if code != 2 || !strings.Contains(errs, "no space left on device") {
		t.Fatalf("worker build on a full disk: exit %d, want 2 naming the full disk\n%s", code, errs)
	}
	if after := treeOf(t, dir); after != before {
		t.Errorf("the directory changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Lstat(filepath.Join(dir, "worker")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("worker/ left behind: %v", err)
	}
}

// mountFullTmpfs mounts a small tmpfs, copies src into it and fills what
// is left, so the next write fails with ENOSPC. Mounting needs root: the
// test is skipped without it, and fails under CI, which runs it as root.
func mountFullTmpfs(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount -t tmpfs (CI runs this as root): %v %s", err, out)
		}
		t.Skipf("cannot mount a small tmpfs to fill (needs root): %v %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	if out, err := exec.Command("cp", "-a", src+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := filler.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	filler.Close()
	return dir
}

// treeOf lists every path under dir with its size.
func treeOf(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		size := ""
		if info.Mode().IsRegular() {
			size = " " + strconv.FormatInt(info.Size(), 10)
		}
		lines = append(lines, rel+" "+info.Mode().String()+size)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
