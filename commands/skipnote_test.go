package commands

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// A test skipped for a missing tool says so after the run, not only under
// -v: `go test -run Worker` printing "ok" alone would look like the Worker
// was tested. (In `go test ./...` a passing package's output is dropped by
// go itself; CI, which sets CI=true, fails instead of skipping.)
var skipNotes struct {
	sync.Mutex
	lines []string
}

// skipVisibly skips t and keeps the reason for the summary.
func skipVisibly(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	skipNotes.Lock()
	skipNotes.lines = append(skipNotes.lines, t.Name()+": "+msg)
	skipNotes.Unlock()
	t.Skip(msg)
}

// reportSkips runs the tests, then prints every reason kept by skipVisibly.
type reportSkips struct {
	m   *testing.M
	out io.Writer
}

func (r reportSkips) Run() int {
	code := r.m.Run()
	skipNotes.Lock()
	defer skipNotes.Unlock()
	for _, l := range skipNotes.lines {
		fmt.Fprintf(r.out, "SKIP %s\n", l)
	}
	return code
}

// npmTool finds a tool .ci/run installs from npm: envVar, else PATH, else
// the cache directory .ci/run installs into (so a machine where CI ran once
// runs these tests without setting anything). Missing, it fails under CI
// and is skipped, visibly, elsewhere.
func npmTool(t testing.TB, envVar, pkg, bin string) string {
	t.Helper()
	if p := os.Getenv(envVar); p != "" {
		return p
	}
	if p, err := exec.LookPath(bin); err == nil {
		return p
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		found, _ := filepath.Glob(filepath.Join(cache, "mtlsctl-ci", pkg+"-*", "node_modules", ".bin", bin))
		if len(found) > 0 {
			return found[len(found)-1]
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed; .ci/run installs it (npm package %s) and sets %s", bin, pkg, envVar)
	}
	skipVisibly(t, "%s is not installed: run .ci/run once, or set %s (npm install %s)", bin, envVar, pkg)
	return ""
}

// Run without -v and without workerd, TestWorkerInWorkerd names itself and
// why it was skipped, instead of a bare "PASS".
func TestWorkerdSkipIsVisible(t *testing.T) {
	empty := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestWorkerInWorkerd$", "-test.count", "1")
	for _, kv := range os.Environ() {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case "CI", "MTLSCTL_WORKERD", "PATH", "HOME", "XDG_CACHE_HOME":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "PATH="+empty, "HOME="+empty)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SKIP TestWorkerInWorkerd: workerd is not installed") {
		t.Fatalf("the skip is not reported:\n%s", out)
	}
}
