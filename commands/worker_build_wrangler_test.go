package commands

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

// The documented KV upload (docs/revocation-at-cloudflare.md), run with the real Wrangler (the npm package,
// pinned in .ci/run) against the fake Cloudflare API: with --remote the
// pairs of revoked.kv.json arrive at the namespace wrangler.toml names.
// Without --remote, Wrangler 4 writes to local storage, says so, and
// nothing reaches the API: the flag is what puts the data where the
// deployed Worker reads it.
func TestWranglerKVUploadReachesCloudflare(t *testing.T) {
	wrangler := npmTool(t, "MTLSCTL_WRANGLER", "wrangler", "wrangler")
	readme, err := os.ReadFile(filepath.Join("..", "docs", "revocation-at-cloudflare.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := regexp.MustCompile(`(?m)^npx wrangler kv bulk put .*$`).FindAllString(string(readme), -1)
	if len(documented) != 1 {
		t.Fatalf("the revocation page shows %d wrangler kv bulk put commands, want 1: %q", len(documented), documented)
	}
	upload := documented[0]
	if !strings.Contains(upload, " --remote") {
		t.Errorf("the documented upload lacks --remote: %s", upload)
	}

	work := t.TempDir() // the documented commands run beside pki/
	must(t, work, "ca", "init", "--dir", "pki", "--key-type", "ecdsa-256")
	must(t, work, "client", "issue", "--dir", "pki", "--cn", "dev-1", "--cn", "dev-2", "--key-type", "ecdsa-256")
	must(t, work, "client", "revoke", "--dir", "pki", "dev-1", "--crl")
	built := must(t, work, "worker", "build", "--dir", "pki", "--hostname", "auth.example.com", "--kv-namespace-id", "ns-live")
	if !strings.Contains(built, "  "+upload+"\n") {
		t.Errorf("worker build's next steps do not show the documented upload %q:\n%s", upload, built)
	}

	fake := cloudflaretest.NewPlain()
	defer fake.Close()
	fake.Lock()
	fake.KV["ns-live"] = map[string]cloudflaretest.KVEntry{}
	fake.Unlock()
	home := t.TempDir()
	run := func(command string) (string, error) {
		args := strings.Fields(strings.TrimPrefix(command, "npx wrangler "))
		cmd := exec.Command(wrangler, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(),
			"CLOUDFLARE_API_BASE_URL="+fake.BaseURL(),
			"CLOUDFLARE_API_TOKEN="+cloudflaretest.Token,
			"CLOUDFLARE_ACCOUNT_ID="+cloudflaretest.Account,
			// Nothing leaves the machine: no metrics, and the update
			// check asks the fake (which refuses) instead of npm.
			"WRANGLER_SEND_METRICS=false",
			"npm_registry="+fake.URL+"/npm/", "npm_config_registry="+fake.URL+"/npm/",
			"HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"), "TMPDIR="+home,
			"WRANGLER_LOG_PATH="+filepath.Join(home, "logs"),
			"NO_COLOR=1", "FORCE_COLOR=0",
		)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	// As documented: every pair arrives at the namespace.
	out, err := run(upload)
	if err != nil {
		t.Fatalf("%s: %v\n%s", upload, err, out)
	}
	t.Logf("%s\n%s", upload, out)
	var pairs []struct{ Key, Value string }
	data, err := os.ReadFile(filepath.Join(work, "pki", "worker", "revoked.kv.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &pairs); err != nil || len(pairs) != 2 {
		t.Fatalf("revoked.kv.json: %v, %d pairs, want the metadata and dev-1", err, len(pairs))
	}
	fake.Lock()
	for _, p := range pairs {
		if got, ok := fake.KV["ns-live"][p.Key]; !ok || got.Value != p.Value {
			t.Errorf("key %s did not arrive at the namespace (got %q, %v)\n%s", p.Key, got.Value, ok, out)
		}
	}
	fake.Unlock()

	// The documented delete of one key (after lifting a certificateHold),
	// for dev-1's key: gone from the namespace.
	deletion := regexp.MustCompile("npx wrangler kv key\\s+delete [^`]+").FindString(string(readme))
	deletion = strings.Join(strings.Fields(deletion), " ")
	if !strings.Contains(deletion, " --remote") || !strings.Contains(deletion, "mtlsctl:rev:SKI:SERIAL") {
		t.Fatalf("the documented key delete is %q, want --remote and mtlsctl:rev:SKI:SERIAL", deletion)
	}
	revoked := pairs[1].Key
	out, err = run(strings.Replace(deletion, "mtlsctl:rev:SKI:SERIAL", revoked, 1))
	if err != nil {
		t.Fatalf("%s: %v\n%s", deletion, err, out)
	}
	fake.Lock()
	_, still := fake.KV["ns-live"][revoked]
	_, meta := fake.KV["ns-live"][pairs[0].Key]
	fake.Unlock()
	if still || !meta {
		t.Errorf("after %s: %s still there: %v, the metadata: %v\n%s", deletion, revoked, still, meta, out)
	}
	writes := len(fake.Writes())

	// Without --remote: local storage, nothing sent.
	fake.Lock()
	fake.KV["ns-live"] = map[string]cloudflaretest.KVEntry{}
	fake.Unlock()
	local := strings.Replace(upload, " --remote", "", 1)
	out, err = run(local)
	if err != nil {
		t.Fatalf("%s: %v\n%s", local, err, out)
	}
	t.Logf("%s\n%s", local, out)
	fake.Lock()
	for _, r := range fake.Log {
		t.Logf("the fake was sent %s %s: %d", r.Method, r.Path, r.Status)
	}
	fake.Unlock()
	if !regexp.MustCompile(`(?i)resource location: local`).MatchString(out) {
		t.Errorf("without --remote, wrangler does not say it wrote locally:\n%s", out)
	}
	fake.Lock()
	n := len(fake.KV["ns-live"])
	fake.Unlock()
	if n != 0 || len(fake.Writes()) != writes {
		t.Errorf("without --remote, %d keys reached the API (%d writes before, %d after)", n, writes, len(fake.Writes()))
	}
}
