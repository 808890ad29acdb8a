package commands

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/signer/pgtest"
	"github.com/rogpeppe/go-internal/testscript"
)

// TestScripts runs every CLI scenario in testdata/script.
func TestScripts(t *testing.T) {
	t.Cleanup(pgtest.Stop) // after every script, parallel ones included
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("..", "testdata", "script"),
		RequireExplicitExec: true,
		Condition:           condition,
		Setup: func(env *testscript.Env) error {
			env.Setenv("NO_COLOR", "1")
			// The examples are the guide's files verbatim; scripts copy
			// them rather than keeping second copies that could drift.
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			env.Setenv("EXAMPLES", filepath.Join(wd, "..", "examples"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":   cmdStatus,
			"mode":     cmdMode,
			"snapshot": cmdSnapshot,
			"jsonpath": cmdJSONPath,
			"waitfile": cmdWaitFile,
			"timein":   cmdTimeIn,
			"cffake":   cmdCFFake,
			"pgdb":     cmdPGDB,
			"cfsslcli": cmdCfsslCLI,
			"runhints": cmdRunHints,
		},
	})
}

// status N prog args...: run prog and require exit code N exactly, keeping
// its stdout/stderr for the next assertions.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: status CODE program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("running %s: %v", args[1], err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// mode PATH PERM: the file's permission bits are exactly PERM (octal).
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: mode path 0600")
	}
	info, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	got := fmt.Sprintf("%04o", info.Mode().Perm())
	if (got == args[1]) == neg {
		ts.Fatalf("%s has mode %s, want %s%s", args[0], got, map[bool]string{true: "not ", false: ""}[neg], args[1])
	}
}

var snapshots sync.Map // WORK dir + name -> tree listing

// snapshot save NAME | snapshot same NAME: record the whole work tree (paths,
// modes, content hashes) and later require it to be exactly as recorded.
// This is how scripts check that a failed command left nothing behind.
func cmdSnapshot(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 || (args[0] != "save" && args[0] != "same") {
		ts.Fatalf("usage: snapshot save|same NAME")
	}
	key := ts.Getenv("WORK") + "\x00" + args[1]
	now := treeListing(ts, ts.MkAbs("."))
	if args[0] == "save" {
		snapshots.Store(key, now)
		return
	}
	before, ok := snapshots.Load(key)
	if !ok {
		ts.Fatalf("no snapshot %q", args[1])
	}
	if (before.(string) == now) == neg {
		ts.Fatalf("tree changed:\nbefore:\n%s\nnow:\n%s", before, now)
	}
}

func treeListing(ts *testscript.TestScript, root string) string {
	var lines []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if rel == ".tmp" || strings.HasPrefix(rel, ".tmp"+string(filepath.Separator)) || rel == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s %v", rel, info.Mode())
		if d.Type().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(data))
		}
		lines = append(lines, line)
		return nil
	})
	ts.Check(err)
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// jsonpath FILE PATH REGEXP: FILE (or "stdout") must be JSON whose value at
// the dotted PATH (object keys and list indexes) matches REGEXP.
func cmdJSONPath(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonpath file|stdout path regexp")
	}
	s := jsonValue(ts, args[0], args[1])
	re, err := regexp.Compile(args[2])
	ts.Check(err)
	if re.MatchString(s) == neg {
		ts.Fatalf("%s = %s; match %q: %v", args[1], s, args[2], !neg)
	}
}

// jsonValue is the value at the dotted path of the JSON in file: a string
// as is, anything else as JSON.
func jsonValue(ts *testscript.TestScript, file, path string) string {
	var doc any
	if err := json.Unmarshal([]byte(ts.ReadFile(file)), &doc); err != nil {
		ts.Fatalf("%s is not JSON: %v", file, err)
	}
	v := doc
	for _, part := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[part]; !ok {
				ts.Fatalf("%s: no key %q", path, part)
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(node) {
				ts.Fatalf("%s: no index %q in a list of %d", path, part, len(node))
			}
			v = node[i]
		default:
			ts.Fatalf("%s: %q is not inside an object or list", path, part)
		}
	}
	if b, err := json.Marshal(v); err == nil && !isString(v) {
		return string(b)
	}
	return fmt.Sprint(v)
}

func isString(v any) bool { _, ok := v.(string); return ok }

// TestInteropToolsPresent turns the scripts' "skip without openssl" into a
// failure in CI, so a CI machine without the tools cannot pass quietly.
func TestInteropToolsPresent(t *testing.T) {
	for _, tool := range []string{"openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Errorf("%s is not installed; .ci/run installs it", tool)
			} else {
				t.Logf("%s is not installed: interop scripts are skipped", tool)
			}
		}
	}
}

// waitfile FILE: wait (up to 20 s) until FILE exists and is not empty, for
// a server started in the background to say where it listens.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 || neg {
		ts.Fatalf("usage: waitfile file")
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if info, err := os.Stat(ts.MkAbs(args[0])); err == nil && info.Size() > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ts.Fatalf("%s did not appear within 20 s", args[0])
}

// timein FILE WHERE FROM TO: a time in FILE (or "stdout") lies between now
// plus FROM and now plus TO. WHERE is json:PATH (a dotted path as jsonpath
// takes) or a regexp whose first group is the time; the time is RFC 3339 or
// OpenSSL's "Jan  2 15:04:05 2006 GMT". FROM and TO are Go durations, or
// days with an optional Go duration after them ("1825d-10m"). Scripts say
// "expires in 5 years" this way instead of naming a year, which the
// calendar would one day make false.
func cmdTimeIn(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: timein file json:path|regexp from to")
	}
	now := time.Now()
	var s string
	if path, ok := strings.CutPrefix(args[1], "json:"); ok {
		s = jsonValue(ts, args[0], path)
	} else {
		re, err := regexp.Compile(args[1])
		ts.Check(err)
		m := re.FindStringSubmatch(ts.ReadFile(args[0]))
		if len(m) < 2 {
			ts.Fatalf("%s: no match for %q", args[0], args[1])
		}
		s = m[1]
	}
	got, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if got, err = time.Parse("Jan _2 15:04:05 2006 GMT", s); err != nil {
			ts.Fatalf("%q is neither RFC 3339 nor OpenSSL's time", s)
		}
	}
	from, to := now.Add(scriptDuration(ts, args[2])), now.Add(scriptDuration(ts, args[3]))
	if in := !got.Before(from) && !got.After(to); in == neg {
		ts.Fatalf("%s is %s [%s, %s] (now %s)", s, map[bool]string{true: "inside", false: "outside"}[in],
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
}

// scriptDuration reads "90s", "-10m", "7d" or "1825d-10m".
func scriptDuration(ts *testscript.TestScript, s string) time.Duration {
	var d time.Duration
	if days, rest, ok := strings.Cut(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			ts.Fatalf("bad duration %q", s)
		}
		d, s = time.Duration(n)*24*time.Hour, rest
	}
	if s != "" {
		more, err := time.ParseDuration(s)
		if err != nil {
			ts.Fatalf("bad duration %q", s)
		}
		d += more
	}
	return d
}
