package commands

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
	"github.com/urfave/cli/v2"
)

// exitCase runs one verb into one exit code.
type exitCase struct {
	verb string
	want int
	args []string // after "mtlsctl"; DIR is replaced by the test's directory
}

// exitCases run in order in one directory: later ones use what earlier
// ones made.
var exitCases = []exitCase{
	{"ca init", 0, []string{"ca", "init", "--dir", "DIR", "--key-type", "ecdsa-256"}},
	{"ca init", 2, []string{"ca", "init", "--dir", "DIR"}}, // exists already
	{"ca validate", 0, []string{"ca", "validate", "--dir", "DIR"}},
	{"ca intermediate", 0, []string{"ca", "intermediate", "--dir", "DIR", "--name", "inter", "--cn", "Inter"}},
	{"client issue", 0, []string{"client", "issue", "--dir", "DIR", "--issuer", "ca", "--cn", "a", "--name", "a", "--key-type", "ecdsa-256"}},
	{"client issue", 0, []string{"client", "issue", "--dir", "DIR", "--issuer", "ca", "--cn", "b", "--name", "b", "--key-type", "ecdsa-256"}},
	{"client request", 0, []string{"client", "request", "--dir", "DIR/device", "--cn", "dev", "--key-type", "ecdsa-256"}},
	{"client sign", 0, []string{"client", "sign", "--dir", "DIR", "--issuer", "ca", "DIR/device/dev.csr"}},
	{"ca validate", 1, []string{"ca", "validate", "DIR/a.pem"}},
	{"client list", 0, []string{"client", "list", "--dir", "DIR"}},
	{"client export", 0, []string{"client", "export", "--dir", "DIR", "a", "--p12", "--no-password"}},
	{"client renew", 0, []string{"client", "renew", "--dir", "DIR", "b"}},
	{"client revoke", 0, []string{"client", "revoke", "--dir", "DIR", "a", "--reason", "superseded"}},
	{"crl build", 0, []string{"crl", "build", "--dir", "DIR", "--all"}},
	{"crl show", 0, []string{"crl", "show", "--dir", "DIR"}},
	{"crl show", 1, []string{"crl", "show", "--dir", "DIR", "--ca", "DIR/inter.pem", "DIR/ca.crl"}},
	{"crl export", 0, []string{"crl", "export", "--dir", "DIR"}},
	{"check", 0, []string{"check", "--dir", "DIR"}},
	{"client issue", 0, []string{"client", "issue", "--dir", "DIR", "--issuer", "ca", "--cn", "soon", "--name", "soon", "--key-type", "ecdsa-256", "--expiry", "1d"}},
	{"check", 1, []string{"check", "--dir", "DIR"}},
	{"inspect", 0, []string{"inspect", "DIR/ca.pem"}},
	{"worker build", 0, []string{"worker", "build", "--dir", "DIR", "--hostname", "auth.example.com", "--kv-namespace-id", "0f2a"}},
	{"completion", 0, []string{"completion", "bash"}},
	// Against the fake API (startFake).
	{"cloudflare upload", 1, []string{"cloudflare", "upload", "--dir", "DIR", "DIR/b.pem"}},
	{"cloudflare upload", 0, []string{"cloudflare", "upload", "--dir", "DIR", "--name", "Test CA"}},
	{"cloudflare list", 0, []string{"cloudflare", "list"}},
	{"cloudflare push", 0, []string{"cloudflare", "push", "--dir", "DIR", "--kv-namespace-id", "0f2a"}},
	{"cloudflare delete", 0, []string{"cloudflare", "delete", "Test CA"}},
}

// signalCases wait on a named pipe that no one writes: a signal ends the
// wait, and the verb's exit code says which signal.
var signalCases = []exitCase{
	{"crl show", 0, []string{"crl", "show", "FIFO"}},
	{"inspect", 0, []string{"inspect", "FIFO"}},
	{"ca validate", 0, []string{"ca", "validate", "FIFO"}},
	{"client issue", 0, []string{"client", "issue", "--dir", "DIR", "--cn-file", "FIFO"}},
	{"client sign", 0, []string{"client", "sign", "--dir", "DIR", "FIFO"}},
	{"crl build", 0, []string{"crl", "build", "--dir", "DIR", "FIFO"}},
	{"client export", 0, []string{"client", "export", "--dir", "DIR", "a", "--p12", "--password-file", "FIFO", "--out", "DIR/x.p12"}},
	{"client renew", 0, []string{"client", "renew", "--dir", "DIR", "b", "--config", "FIFO"}},
	{"cloudflare upload", 0, []string{"cloudflare", "upload", "--name", "Signal CA", "FIFO"}},
	{"cloudflare push", 0, []string{"cloudflare", "push", "--dir", "DIR", "--kv-namespace-id", "0f2a", "--crl", "FIFO", "--ca", "DIR/ca.pem"}},
}

// notExercised are the documented codes this test does not produce, each
// with where it is tested instead.
var notExercised = map[string]string{
	// A batch fails part-way only when the disk does (every input is checked
	// before the first certificate is made): no test fills a disk mid-batch.
	"client issue 3": "not produced by a test: needs a disk that fails mid-batch",
	"client sign 3":  "not produced by a test: as client issue 3",
	"client renew 3": "testdata/script/client_renew.txtar (status 3) and commands/client_renew_revoke_test.go",
	// The signer verbs need PostgreSQL, which the script runner starts.
	"signer init 0":   "testdata/script/signer_issuer.txtar",
	"signer runner 0": "testdata/script/signer_issuer.txtar",
	"signer serve 0":  "testdata/script/signer_issuer.txtar (stopped by its kill, as a background command)",
	// Partly applied writes are classified in pkix/cloudflare (ApplyError.Partial,
	// client_test.go); only delete's 3 goes through the CLI in a script.
	"cloudflare delete 3":     "testdata/script/cloudflare_errors.txtar (status 3)",
	"cloudflare upload 3":     "not produced by a test through the CLI: pkix/cloudflare/client_test.go checks Partial",
	"cloudflare push 3":       "not produced by a test through the CLI: pkix/cloudflare/client_test.go checks Partial",
	"cloudflare forwarding 3": "not produced by a test through the CLI: pkix/cloudflare/client_test.go checks Partial",
	"cloudflare forwarding 0": "testdata/script/cloudflare_rotate.txtar",
	// These read no file to block on; a signal reaches them through the same
	// context as every other verb (signals.go).
	"cloudflare list 130":       "not produced by a test: no input to wait on",
	"cloudflare list 143":       "not produced by a test: no input to wait on",
	"cloudflare delete 130":     "not produced by a test: no input to wait on",
	"cloudflare delete 143":     "not produced by a test: no input to wait on",
	"cloudflare forwarding 130": "not produced by a test: no input to wait on",
	"cloudflare forwarding 143": "not produced by a test: no input to wait on",
}

// leafVerbs lists every verb of the command tree.
func leafVerbs() []string {
	var out []string
	var walk func(prefix string, cmds []*cli.Command)
	walk = func(prefix string, cmds []*cli.Command) {
		for _, c := range cmds {
			if len(c.Subcommands) > 0 {
				walk(prefix+c.Name+" ", c.Subcommands)
				continue
			}
			out = append(out, prefix+c.Name)
		}
	}
	walk("", newApp(newUI(&bytes.Buffer{}, &bytes.Buffer{}), nil).Commands)
	sort.Strings(out)
	return out
}

func expand(args []string, dir, fifo string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		a = strings.ReplaceAll(a, "DIR", dir)
		out[i] = strings.ReplaceAll(a, "FIFO", fifo)
	}
	return out
}

// TestEveryVerbExitsWithEachDocumentedCode: the table names every verb,
// and each code it documents is produced here or named in notExercised.
func TestEveryVerbExitsWithEachDocumentedCode(t *testing.T) {
	verbs := leafVerbs()
	for _, v := range verbs {
		if _, ok := verbExitCodes[v]; !ok {
			t.Errorf("verbExitCodes has no entry for %q", v)
		}
	}
	for v := range verbExitCodes {
		if !slices.Contains(verbs, v) {
			t.Errorf("verbExitCodes names %q, which is no verb", v)
		}
	}
	fake := startFake(t)
	fake.KV["0f2a"] = map[string]cloudflaretest.KVEntry{}
	dir := t.TempDir()
	done := map[string]bool{}
	for _, c := range exitCases {
		var out, errOut bytes.Buffer
		args := append([]string{"mtlsctl"}, expand(c.args, dir, "")...)
		if got := Run(args, nil, &out, &errOut); got != c.want {
			t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, c.want, out.String(), errOut.String())
		}
		done[fmt.Sprint(c.verb, " ", c.want)] = true
	}
	// Every verb: a usage error changes nothing and exits 2.
	for _, v := range verbs {
		var out bytes.Buffer
		args := append(append([]string{"mtlsctl"}, strings.Fields(v)...), "--no-such-flag")
		if got := Run(args, nil, &out, &out); got != ExitError {
			t.Errorf("%s: exit %d, want 2\n%s", strings.Join(args, " "), got, out.String())
		}
		done[v+" 2"] = true
	}
	if !t.Failed() {
		for _, c := range signalCases {
			for sig, code := range map[syscall.Signal]int{syscall.SIGINT: ExitSIGINT, syscall.SIGTERM: ExitSIGTERM} {
				runIntoSignal(t, dir, c, sig, code, func(pid int) { waitForPipeOpen(pid, 20*time.Second) })
				done[fmt.Sprint(c.verb, " ", code)] = true
			}
		}
		// A signal is serve's normal stop: exit 0, once it listens.
		addrFile := filepath.Join(dir, "serve.addr")
		serve := exitCase{"serve", 0, []string{"serve", "--dir", "DIR", "--addr", "127.0.0.1:0", "--addr-file", addrFile}}
		for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
			os.Remove(addrFile)
			runIntoSignal(t, dir, serve, sig, ExitOK, func(int) { waitForFile(t, addrFile) })
		}
		done["serve 0"] = true
	}
	for v, codes := range verbExitCodes {
		for _, code := range codes {
			key := fmt.Sprint(v, " ", code)
			if !done[key] && notExercised[key] == "" {
				t.Errorf("%s documents exit %d, but no case here produces it", v, code)
			}
			if done[key] && notExercised[key] != "" {
				t.Errorf("%s exit %d is both produced here and listed as not exercised", v, code)
			}
		}
	}
}

// runIntoSignal runs the verb in a child process (this test binary, see
// TestExitCodeChild) that waits on a named pipe, and sends it sig.
func runIntoSignal(t *testing.T, dir string, c exitCase, sig syscall.Signal, want int, ready func(pid int)) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "never.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestExitCodeChild$")
	cmd.Env = append(os.Environ(), "MTLSCTL_EXIT_CHILD="+strings.Join(expand(c.args, dir, fifo), "\x1f"))
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Signal it once it blocks opening the pipe (its signals are caught
	// by then); where the kernel does not say so, give it a moment.
	ready(cmd.Process.Pid)
	cmd.Process.Signal(sig)
	err := cmd.Wait()
	got := cmd.ProcessState.ExitCode()
	if got != want {
		t.Errorf("%s, %v: exit %d (%v), want %d\nstderr: %s", c.verb, sig, got, err, want, errOut.String())
	}
}

// waitForPipeOpen waits until a thread of process pid blocks in a named
// pipe's open, as Linux's /proc says, or until timeout.
func waitForPipeOpen(pid int, timeout time.Duration) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		time.Sleep(time.Second)
		return
	}
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		chans, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", pid))
		for _, f := range chans {
			if b, _ := os.ReadFile(f); string(b) == "wait_for_partner" {
				return
			}
		}
	}
}

// TestExitCodeChild is the child of runIntoSignal; run alone it does
// nothing.
func TestExitCodeChild(t *testing.T) {
	args := os.Getenv("MTLSCTL_EXIT_CHILD")
	if args == "" {
		t.Skip("only a child of TestEveryVerbExitsWithEachDocumentedCode")
	}
	os.Exit(Run(append([]string{"mtlsctl"}, strings.Split(args, "\x1f")...), os.Stdin, os.Stdout, os.Stderr))
}
