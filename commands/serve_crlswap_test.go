package commands

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
)

// A real serve whose --crl is swapped for a FIFO, then for a link to
// /dev/zero: every request still gets its answer from
// the last good CRL, a warning names the file, memory stays flat, and
// SIGTERM stops serve with 0, as a signal always does.
func TestServeCRLSwappedForFIFOAndDevZero(t *testing.T) {
	curl := interoptest.Require(t, "curl")
	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--cn", "dev-1", "--key-type", "ecdsa-256")
	must(t, dir, "client", "issue", "--cn", "dev-2", "--key-type", "ecdsa-256")
	must(t, dir, "client", "revoke", "dev-2", "--crl")

	cmd := exec.Command(os.Args[0], "serve", "--crl", "ca.crl", "--addr", "127.0.0.1:0", "--addr-file", "addr")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1")
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &bytes.Buffer{}, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
		}
	}()
	addr := waitAddr(t, filepath.Join(dir, "addr"), exited, &stderr)

	status := func(cn string) string {
		t.Helper()
		// --max-time only so that a hang fails the test instead of
		// stalling it: a request that waits on the CRL file never ends.
		out, err := exec.Command(curl, "-s", "--max-time", "60", "--cacert", filepath.Join(dir, "serve-ca.pem"),
			"--cert", filepath.Join(dir, cn+".pem"), "--key", filepath.Join(dir, cn+"-key.pem"),
			"-o", "/dev/null", "-w", "%{http_code}", "https://localhost:"+addr[strings.LastIndex(addr, ":")+1:]+"/").Output()
		if err != nil {
			t.Fatalf("curl as %s: %v (%s)\nserve said:\n%s", cn, err, out, stderr.String())
		}
		return string(out)
	}
	check := func(when string) {
		t.Helper()
		if got := status("dev-1"); got != "200" {
			t.Errorf("%s: dev-1 got %s, want 200", when, got)
		}
		if got := status("dev-2"); got != "403" {
			t.Errorf("%s: revoked dev-2 got %s, want 403 (the last good CRL stays in force)", when, got)
		}
	}
	check("at start")

	crl := filepath.Join(dir, "ca.crl")
	if err := os.Rename(crl, crl+".good"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(crl, 0o644); err != nil {
		t.Fatal(err)
	}
	check("CRL replaced by a FIFO")
	if !strings.Contains(stderr.String(), "ca.crl: is a pipe, not a regular file to read the CRL from; keeping the last good CRL") {
		t.Errorf("no warning naming the FIFO:\n%s", stderr.String())
	}

	os.Remove(crl)
	if err := os.Symlink("/dev/zero", crl); err != nil {
		t.Fatal(err)
	}
	check("CRL replaced by a link to /dev/zero")
	if !strings.Contains(stderr.String(), "ca.crl: is a character device, not a regular file to read the CRL from; keeping the last good CRL") {
		t.Errorf("no warning naming /dev/zero:\n%s", stderr.String())
	}
	// Never read: the peak resident set stays that of a small server
	// (without the fix it grows until Go's fatal out-of-memory).
	if hwm := peakRSS(t, cmd.Process.Pid); hwm > 512<<20 {
		t.Errorf("serve's peak RSS is %d MiB", hwm>>20)
	} else {
		t.Logf("serve's peak RSS: %d MiB", hwm>>20)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("serve after SIGTERM: %v, want exit 0\n%s", err, stderr.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatalf("serve did not stop on SIGTERM\n%s", stderr.String())
	}
}

// waitAddr waits for serve's --addr-file.
func waitAddr(t *testing.T, file string, exited chan error, stderr *syncBuffer) string {
	t.Helper()
	for range 3000 {
		if data, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(data), "\n") {
			return strings.TrimSpace(string(data))
		}
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("serve wrote no address\n%s", stderr.String())
	return ""
}

// peakRSS is the process's high-water resident set, from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}
