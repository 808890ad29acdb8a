package commands

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
)

// The curl command serve's banner offers for "200" is run as printed, with
// a real curl: for a client certificate issued by an intermediate the
// server does not hold, the leaf alone would get 403 "unable to get local
// issuer certificate", so the banner must name the fullchain. Under a root,
// or with the intermediate in --ca, the leaf alone is right.
func TestServeBannerCurlGets200(t *testing.T) {
	interoptest.Require(t, "openssl")
	interoptest.Require(t, "curl")
	under := t.TempDir()
	must(t, under, "ca", "init", "--key-type", "ecdsa-256")
	must(t, under, "ca", "intermediate", "--cn", "Issuing CA", "--key-type", "ecdsa-256")
	must(t, under, "client", "issue", "--issuer", "intermediate", "--cn", "device-1", "--name", "client", "--key-type", "ecdsa-256")
	root := t.TempDir()
	must(t, root, "ca", "init", "--key-type", "ecdsa-256")
	must(t, root, "client", "issue", "--cn", "device-2", "--name", "client", "--key-type", "ecdsa-256")

	for _, c := range []struct {
		name, dir, ca, cert string
	}{
		{"under an intermediate, root-only --ca", under, "ca.pem", "--cert client-fullchain.pem"},
		{"under an intermediate, --ca with the chain", under, "ca-chain.pem", "--cert client.pem"},
		{"under the root", root, "ca.pem", "--cert client.pem"},
	} {
		t.Run(c.name, func(t *testing.T) {
			line := serveBannerCurl(t, c.dir, c.ca)
			if !strings.Contains(line, c.cert+" ") {
				t.Errorf("banner suggests %q, want %s", line, c.cert)
			}
			// As printed (the comment after # included), from the
			// directory serve ran in; -v's chatter goes to stderr.
			out, err := exec.Command("sh", "-c", "cd "+c.dir+" && "+line).Output()
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			var body struct {
				Status int
				Reason string
			}
			if err := json.Unmarshal(out, &body); err != nil || body.Status != 200 {
				t.Fatalf("%s\nanswered %d %q, want 200 (%v)\n%s", line, body.Status, body.Reason, err, out)
			}
		})
	}
}

// serveBannerCurl starts serve in dir with --ca ca and returns the banner's
// curl line that should get 200; serve is stopped when the test ends.
func serveBannerCurl(t *testing.T, dir, ca string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--ca", ca, "--addr", "127.0.0.1:0")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "# 200") {
				found <- strings.TrimSpace(sc.Text())
			}
		}
		close(found)
	}()
	select {
	case line, ok := <-found:
		if !ok {
			t.Fatal("serve printed no curl line for 200")
		}
		return line
	case <-time.After(30 * time.Second):
		t.Fatal("serve printed no banner within 30 s")
	}
	return ""
}
