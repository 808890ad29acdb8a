package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/commands"
)

// TestReadmeCommandSummaryIsComplete: the README's command summary (the
// first code block under "## Commands") names every command the tool has,
// and for each every flag its --help lists, so a command or a flag added
// later (crl export, signer *, crl build --issuer, revoke --foreign were
// left out) fails here until the summary says it. The summary may state
// flags shared by a family once, on a line of its own in brackets.
func TestReadmeCommandSummaryIsComplete(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "\n## Commands\n")
	if !ok {
		t.Fatal("README.md has no '## Commands' section")
	}
	_, block, _ := strings.Cut(after, "```\n")
	block, _, _ = strings.Cut(block, "```")
	// The text of each command: its lines and their continuations; a
	// bracketed note on its own line applies to the family before it.
	summary := map[string]string{}
	var current string
	var notes [][2]string
	open := false
	for _, line := range strings.Split(block, "\n") {
		if rest, ok := strings.CutPrefix(line, "mtlsctl "); ok && !strings.HasPrefix(rest, "-") {
			words := strings.Fields(rest)
			current = words[0]
			if len(words) > 1 && !strings.HasPrefix(words[1], "-") && !strings.HasPrefix(words[1], "[") && strings.ToLower(words[1]) == words[1] && !strings.Contains(words[1], "|") {
				current += " " + words[1]
			}
		}
		summary[current] += " " + line
		trimmed := strings.TrimSpace(line)
		switch note, ok := strings.CutPrefix(trimmed, "("); {
		case ok:
			notes = append(notes, [2]string{current, note})
			open = !strings.HasSuffix(trimmed, ")")
		case open: // a note's next line
			notes[len(notes)-1][1] += " " + trimmed
			open = !strings.HasSuffix(trimmed, ")")
		}
	}
	// A note in brackets on lines of its own applies to the commands it
	// names, or else to every command of the family before it.
	for _, n := range notes {
		named := false
		for path := range summary {
			if path != "" && regexp.MustCompile(`(^|[ (,])`+regexp.QuoteMeta(path)+`[ ,:)]`).MatchString(n[1]) {
				summary[path] += " " + n[1]
				named = true
			}
		}
		if !named {
			family := strings.Fields(n[0])[0]
			for path := range summary {
				if strings.HasPrefix(path, family+" ") {
					summary[path] += " " + n[1]
				}
			}
		}
	}
	flagRE := regexp.MustCompile(`(?m)^\s+(--[a-z0-9-]+)`)
	var walk func(path []string)
	leaves := 0
	walk = func(path []string) {
		var out bytes.Buffer
		commands.Run(append(append([]string{"mtlsctl"}, path...), "--help"), nil, &out, &out)
		help := out.String()
		if subs := subcommands(help); len(subs) > 0 {
			for _, s := range subs {
				walk(append(append([]string(nil), path...), s))
			}
			return
		}
		leaves++
		name := strings.Join(path, " ")
		text, ok := summary[name]
		if !ok {
			t.Errorf("README's command summary has no line for 'mtlsctl %s'", name)
			return
		}
		_, opts, _ := strings.Cut(help, "OPTIONS:")
		for _, m := range flagRE.FindAllStringSubmatch(opts, -1) {
			flag := m[1]
			if flag == "--help" {
				continue
			}
			if !regexp.MustCompile(regexp.QuoteMeta(flag) + `\b`).MatchString(text) {
				t.Errorf("README's command summary of 'mtlsctl %s' leaves out %s", name, flag)
			}
		}
	}
	walk(nil)
	if leaves < 20 {
		t.Fatalf("only %d commands found in --help", leaves)
	}
}

// subcommands reads the COMMANDS section of a --help.
func subcommands(help string) []string {
	_, cmds, ok := strings.Cut(help, "COMMANDS:\n")
	if !ok {
		return nil
	}
	var out []string
	for _, line := range strings.Split(cmds, "\n") {
		if strings.TrimSpace(line) == "" || !strings.HasPrefix(line, "   ") {
			break
		}
		name := strings.TrimRight(strings.Fields(line)[0], ",")
		if name != "help" {
			out = append(out, name)
		}
	}
	return out
}

// TestReadmeDirExamplesRun runs the README's intermediate, device-key and
// revocation examples as written, with sh, from the directory above the
// PKI directory: each one must name --dir, or it fails there (the CA is
// in pki/, not here) the way a pasted example used to, and its error sent
// the user to 'ca init' and a second CA.
func TestReadmeDirExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is needed (CI installs it)")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[string]string{}
	for _, heading := range []string{"### Intermediate CAs", "### Keys that never leave the device", "does **not** read your CRLs"} {
		_, after, ok := strings.Cut(string(readme), heading)
		if !ok {
			t.Fatalf("README.md has no %q", heading)
		}
		_, block, _ := strings.Cut(after, "```sh\n")
		block, _, _ = strings.Cut(block, "```")
		blocks[heading] = block
	}
	// mtlsctl on PATH is this test binary acting as main.
	bin := t.TempDir()
	self, _ := os.Executable()
	script := "#!/bin/sh\nMTLSCTL_AS_MAIN=1 exec " + self + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mtlsctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	run := func(line string) {
		t.Helper()
		cmd := exec.Command("sh", "-c", line)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", line, err, out)
		}
	}
	run("mtlsctl ca init --dir pki --key-type ecdsa-256")
	for _, heading := range []string{"### Intermediate CAs", "### Keys that never leave the device", "does **not** read your CRLs"} {
		for _, line := range strings.Split(blocks[heading], "\n") {
			if strings.HasPrefix(line, "mtlsctl client sign") {
				run("cp device/device-7.csr .") // the request, copied to the CA
			}
			if strings.HasPrefix(line, "mtlsctl ") || strings.HasPrefix(line, "openssl ") {
				run(line)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(work, "ca.pem")); err == nil {
		t.Fatal("an example made a CA in the working directory")
	}
	for _, f := range []string{"pki/intermediate.pem", "pki/device-1-fullchain.pem", "pki/device-7.pem", "pki/device-8.pem", "pki/intermediate.crl"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("the examples did not write %s: %v", f, err)
		}
	}
}
