package commands

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// The reference is generated from the command tree; a help text changed
// without regenerating makes it stale, and this says how to fix that.
func TestCLIReferenceIsCurrent(t *testing.T) {
	markdown, man := Reference()
	for _, f := range []struct {
		path string
		want []byte
	}{{"../docs/cli.md", markdown}, {"../docs/mtlsctl.1", man}} {
		got, err := os.ReadFile(f.path)
		if err != nil {
			t.Errorf("%v: generate it with 'go generate ./...'", err)
			continue
		}
		if !bytes.Equal(got, f.want) {
			t.Errorf("%s is stale: regenerate it with 'go generate ./...' and commit it\n%s",
				strings.TrimPrefix(f.path, "../"), firstDifference(got, f.want))
		}
	}
}

func firstDifference(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl || i >= len(g) || i >= len(w) {
			return fmt.Sprintf("first difference at line %d:\n  file:      %q\n  generated: %q", i+1, gl, wl)
		}
	}
	return ""
}

// Every command and every flag the help shows has its place in the
// reference, whatever its type.
func TestCLIReferenceNamesEveryCommandAndFlag(t *testing.T) {
	markdown, _ := Reference()
	md := string(markdown)
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden {
				continue
			}
			p := path + " " + c.Name
			start := strings.Index(md, "# "+p+"\n")
			if start < 0 {
				t.Errorf("no section for %s", p)
				continue
			}
			section := md[start+1:]
			if end := strings.Index(section, "\n#"); end >= 0 {
				section = section[:end]
			}
			for _, f := range c.Flags {
				if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
					continue
				}
				if !strings.Contains(section, "`--"+f.Names()[0]) {
					t.Errorf("%s: --%s is not in its section", p, f.Names()[0])
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk("mtlsctl", newApp(newUI(io.Discard, io.Discard), nil).Commands)
}

// Whoever regenerates the reference, wherever, gets the same bytes: no
// value from the environment, the working directory, the home directory
// or a terminal reaches it.
func TestCLIReferenceIsMachineFree(t *testing.T) {
	md1, man1 := Reference()

	app := newApp(newUI(io.Discard, io.Discard), nil)
	var walk func([]cli.Flag, []*cli.Command)
	walk = func(flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			if ef, ok := f.(interface{ GetEnvVars() []string }); ok {
				for _, v := range ef.GetEnvVars() {
					t.Setenv(v, "/elsewhere/"+strings.ToLower(v))
				}
			}
		}
		for _, c := range cmds {
			walk(c.Flags, c.Subcommands)
		}
	}
	walk(app.Flags, app.Commands)
	for _, v := range []string{"NO_COLOR", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_ACCOUNT_ID", "MTLSCTL_P12_PASSWORD"} {
		t.Setenv(v, "1")
	}
	t.Setenv("COLUMNS", "37")
	t.Setenv("HOME", t.TempDir())
	t.Chdir(t.TempDir())

	md2, man2 := Reference()
	if !bytes.Equal(md1, md2) {
		t.Errorf("docs/cli.md depends on the machine:\n%s", firstDifference(md1, md2))
	}
	if !bytes.Equal(man1, man2) {
		t.Errorf("docs/mtlsctl.1 depends on the machine:\n%s", firstDifference(man1, man2))
	}
}

// "go generate ./..." regenerates the reference, and nothing whose output
// depends on the machine: OpenSSL's short names come from the local
// openssl, so their generator is run by hand.
func TestGoGenerateIsMachineFree(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	cmd := exec.Command(goTool, "generate", "-n", "./...")
	cmd.Dir = ".."
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go generate -n ./...: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "go run ./internal/gendocs") {
		t.Errorf("go generate ./... does not regenerate the CLI reference:\n%s", out)
	}
	if strings.Contains(strings.ToLower(string(out)), "openssl") {
		t.Errorf("go generate ./... would run OpenSSL's names generator, whose output depends on the local openssl: put its go:generate line behind a build tag\n%s", out)
	}
}
