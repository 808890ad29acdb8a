package commands

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/signer/pgtest"
)

// SIGINT at the earliest moments of a real `mtlsctl serve` process: as
// soon as its --addr-file appears, and at random points of its start-up
// (reading the CA, making the throwaway certificate, listening). Every run
// must end promptly with serve's documented answer to a signal, exit 0 and
// "shut down". The one other outcome allowed is the signal landing before
// mtlsctl's handler exists (the first instants of the process): then it
// dies of SIGINT like any program (130 in a shell). A hang is the bug this
// guards against: a signal in the gap between the process-wide handler and
// serve's own used to cancel a context serve never read.
func TestServeSIGINTAtStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts serve 100 times")
	}
	dir := t.TempDir()
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")

	// How long a start-up takes here, to spread the early signals over it.
	startup := measureServeStartup(t, dir)
	t.Logf("serve start-up until the address file: %v", startup)

	const runs = 50
	for i := range runs {
		serveAndInterrupt(t, dir, i, func(addrFile string) {
			waitForFile(t, addrFile)
		})
	}
	for i := range runs {
		delay := time.Duration(rand.Int64N(int64(startup) + 1))
		serveAndInterrupt(t, dir, runs+i, func(string) { time.Sleep(delay) })
	}
}

// serveAndInterrupt starts serve, calls before (which returns at the
// moment to signal), sends SIGINT and checks how the process ended.
func serveAndInterrupt(t *testing.T, dir string, run int, before func(addrFile string), env ...string) {
	t.Helper()
	addrFile := filepath.Join(dir, "addr")
	os.Remove(addrFile)
	verb := []string{"serve"}
	if len(env) > 0 { // the signer's database
		verb = []string{"signer", "serve"}
	}
	cmd := exec.Command(os.Args[0], append(verb, "--addr", "127.0.0.1:0", "--addr-file", addrFile)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1"), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	before(addrFile)
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second): // a hang, not a slow machine
		cmd.Process.Kill()
		<-done
		t.Fatalf("run %d: serve still running 30 s after SIGINT (killed)\n%s", run, out.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		if !bytes.Contains(out.Bytes(), []byte("shut down")) {
			t.Fatalf("run %d: exit 0 without \"shut down\"\n%s", run, out.String())
		}
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() &&
		ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT && out.Len() == 0:
		// before mtlsctl's handler: the default action, nothing done
	default:
		t.Fatalf("run %d: serve ended with %v after SIGINT, want exit 0\n%s", run, err, out.String())
	}
}

// measureServeStartup times one start until the address file appears.
func measureServeStartup(t *testing.T, dir string, env ...string) time.Duration {
	t.Helper()
	var took time.Duration
	serveAndInterrupt(t, dir, -1, func(addrFile string) {
		start := time.Now()
		waitForFile(t, addrFile)
		took = time.Since(start)
	}, env...)
	return took
}

// The same for `signer serve`, whose start-up also opens its database:
// a signal is its normal stop too (exit 0), at any moment.
func TestSignerServeSIGINTAtStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts signer serve 40 times")
	}
	dsn := pgtest.DSN(t)
	t.Cleanup(pgtest.Stop)
	dir := t.TempDir()
	env := []string{"MTLSCTL_SIGNER_DB=" + dsn}
	must(t, dir, "ca", "init", "--key-type", "ecdsa-256")
	if code, _, errOut := mtlsctl(t, dir, env, "signer", "init", "--cn", "ci-*"); code != 0 {
		t.Fatalf("signer init: %s", errOut)
	}
	startup := measureServeStartup(t, dir, env...)
	t.Logf("signer serve start-up until the address file: %v", startup)
	const runs = 20
	for i := range runs {
		serveAndInterrupt(t, dir, i, func(addrFile string) { waitForFile(t, addrFile) }, env...)
	}
	for i := range runs {
		delay := time.Duration(rand.Int64N(int64(startup) + 1))
		serveAndInterrupt(t, dir, runs+i, func(string) { time.Sleep(delay) }, env...)
	}
}

// waitForFile polls, as tightly as is reasonable, until path is not empty.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(path); err == nil && info.Size() > 0 {
			return
		}
		time.Sleep(200 * time.Microsecond)
	}
	t.Fatalf("%s did not appear within 30 s", path)
}
