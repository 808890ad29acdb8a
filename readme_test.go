package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/commands"
)

// TestReadmeCommandSummaryIsComplete: the command summary (the first
// code block under "## Commands" in docs/commands.md) names every command
// the tool has, and for each every flag its --help lists, so a command or
// a flag added later (crl export, signer *, crl build --issuer, revoke
// --foreign were left out) fails here until the summary says it. The
// summary may state flags shared by a family once, on a line of its own
// in brackets. The README's table has a line for every command, with a
// link to the page that explains it.
func TestReadmeCommandSummaryIsComplete(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, verbs, ok := strings.Cut(string(readme), "\n## Commands\n")
	if !ok {
		t.Fatal("README.md has no '## Commands' section")
	}
	verbs, _, _ = strings.Cut(verbs, "\n## ")
	page, err := os.ReadFile(filepath.Join("docs", "commands.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(page), "\n## Commands\n")
	if !ok {
		t.Fatal("docs/commands.md has no '## Commands' section")
	}
	_, block, _ := strings.Cut(after, "```text\n")
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
		if !regexp.MustCompile("(?m)^\\| `mtlsctl " + regexp.QuoteMeta(name) + "` \\|.*\\]\\((docs/[a-z-]+\\.md|#[a-z-]+)\\) \\|$").MatchString(verbs) {
			t.Errorf("README's command table has no line for 'mtlsctl %s' with a link to its page", name)
		}
		text, ok := summary[name]
		if !ok {
			t.Errorf("the command summary has no line for 'mtlsctl %s'", name)
			return
		}
		_, opts, _ := strings.Cut(help, "OPTIONS:")
		for _, m := range flagRE.FindAllStringSubmatch(opts, -1) {
			flag := m[1]
			if flag == "--help" {
				continue
			}
			if !regexp.MustCompile(regexp.QuoteMeta(flag) + `\b`).MatchString(text) {
				t.Errorf("the command summary of 'mtlsctl %s' leaves out %s", name, flag)
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

// TestReadmeDirExamplesRun runs the documented intermediate, device-key
// and revocation examples as written, with sh, one after the other from
// the directory above the PKI directory: each one must name --dir, or it
// fails there (the CA is in pki/, not here) the way a pasted example used
// to, and its error sent the user to 'ca init' and a second CA.
func TestReadmeDirExamplesRun(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is needed (CI installs it)")
	}
	pages := map[string]string{
		"## Intermediate CAs":            "ca.md",
		"## Requests made on the device": "device-keys.md",
		"does **not** read your CRLs":    "revocation-at-cloudflare.md",
	}
	blocks := map[string]string{}
	for _, heading := range []string{"## Intermediate CAs", "## Requests made on the device", "does **not** read your CRLs"} {
		page, err := os.ReadFile(filepath.Join("docs", pages[heading]))
		if err != nil {
			t.Fatal(err)
		}
		_, after, ok := strings.Cut(string(page), heading)
		if !ok {
			t.Fatalf("docs/%s has no %q", pages[heading], heading)
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
	for _, heading := range []string{"## Intermediate CAs", "## Requests made on the device", "does **not** read your CRLs"} {
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

// docBlock is one fenced block of a page: where it starts, its info
// string, its text, and the reason of a norun marker just before it.
type docBlock struct {
	line         int
	lang, text   string
	norun        bool
	norunReason  string
	markerBroken string
}

var norunRE = regexp.MustCompile(`^<!--\s*norun\b(.*?)-->$`)

// docBlocks splits a Markdown page into its fenced blocks (indented ones,
// inside a list item, included).
func docBlocks(page string) []docBlock {
	var blocks []docBlock
	var cur *docBlock
	var fence, prev string
	for i, line := range strings.Split(page, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur != nil {
			if trimmed == fence {
				blocks = append(blocks, *cur)
				cur = nil
			} else {
				cur.text += strings.TrimPrefix(line, strings.Repeat(" ", len(line)-len(strings.TrimLeft(line, " ")))) + "\n"
			}
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			fence = "```"
			cur = &docBlock{line: i + 1, lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))}
			if m := norunRE.FindStringSubmatch(prev); m != nil {
				cur.norun = true
				reason, ok := strings.CutPrefix(strings.TrimSpace(m[1]), ":")
				cur.norunReason = strings.TrimSpace(reason)
				if !ok || cur.norunReason == "" {
					cur.markerBroken = "a norun marker without a reason (write <!-- norun: REASON -->)"
				}
			}
		}
		if trimmed != "" {
			prev = trimmed
		}
	}
	return blocks
}

// docPages are the pages whose shell blocks run: the README and docs/,
// except the reference generated from the help.
func docPages(t *testing.T) []string {
	pages, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, p := range pages {
		if filepath.Base(p) != "cli.md" {
			out = append(out, p)
		}
	}
	return out
}

// TestDocsShellBlocksRun runs every fenced sh block of the README and of
// docs/*.md, as written, with sh -e: page by page, each page in an empty
// directory, its blocks in order, with mtlsctl on PATH being this test
// binary acting as main. A documented command that fails fails the test.
// A block that cannot run here carries <!-- norun: REASON --> on the line
// before it and is listed; output is fenced as text; a block with no
// language, or a marker without a reason, fails. In the README, `go run .`
// stands for mtlsctl, and `go test ./...` (this suite) is not started.
func TestDocsShellBlocksRun(t *testing.T) {
	for _, tool := range []string{"openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed; .ci/run installs it", tool)
			}
			t.Skipf("%s is needed to run the documented commands", tool)
		}
	}
	bin := t.TempDir()
	self, _ := os.Executable()
	script := "#!/bin/sh\nMTLSCTL_AS_MAIN=1 exec " + self + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "mtlsctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MTLSCTL_") && !strings.HasPrefix(kv, "CLOUDFLARE_") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "NO_COLOR=1")
	ran := 0
	for _, page := range docPages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		work := t.TempDir()
		for _, b := range docBlocks(string(data)) {
			where := fmt.Sprintf("%s:%d", page, b.line)
			switch {
			case b.markerBroken != "":
				t.Errorf("%s: %s", where, b.markerBroken)
				continue
			case b.lang == "":
				t.Errorf("%s: a fenced block without a language: sh for commands (run here), text for output", where)
				continue
			case b.lang != "sh":
				if b.norun {
					t.Errorf("%s: a norun marker on a %s block, which never runs", where, b.lang)
				}
				continue
			case b.norun:
				t.Logf("not run, %s: %s", where, b.norunReason)
				continue
			}
			text := b.text
			if page == "README.md" {
				text = readmeCommands(t, where, text)
			}
			runDocBlock(t, where, work, env, text)
			ran++
		}
	}
	if ran < 10 {
		t.Errorf("only %d shell blocks ran", ran)
	}
}

// readmeCommands turns the README's quick start into what runs here.
func readmeCommands(t *testing.T, where, text string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "go test ") {
			t.Logf("not run, %s: %s (the suite this test is part of)", where, line)
			continue
		}
		out = append(out, strings.ReplaceAll(line, "go run . ", "mtlsctl "))
	}
	return strings.Join(out, "\n")
}

// runDocBlock runs one block with sh -e in work, and fails the test with
// its output when it fails. Whatever the block left running in the
// background is killed with it.
func runDocBlock(t *testing.T, where, work string, env []string, text string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", text)
	cmd.Dir = work
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if err == nil {
		err = cmd.Wait()
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Errorf("%s: the documented commands failed: %v\n%s\n--- output:\n%s", where, err, text, out.String())
	}
}

// TestDocBlocksMarkers: a norun marker counts only on the line before a
// block (blank lines between allowed), and one without a reason is caught.
func TestDocBlocksMarkers(t *testing.T) {
	page := "<!-- norun: needs hardware -->\n```sh\nhsm-tool\n```\n\n<!-- norun -->\n\n```sh\nx\n```\n<!-- norun: -->\n```sh\ny\n```\ntext\n```sh\nmtlsctl --version\n```\n  ```text\n  out\n  ```\n"
	got := docBlocks(page)
	if len(got) != 5 {
		t.Fatalf("%d blocks, want 5: %+v", len(got), got)
	}
	if !got[0].norun || got[0].norunReason != "needs hardware" || got[0].markerBroken != "" {
		t.Errorf("block 1: %+v", got[0])
	}
	for _, b := range got[1:3] {
		if !b.norun || b.markerBroken == "" {
			t.Errorf("a marker without a reason passed: %+v", b)
		}
	}
	if got[3].norun || got[3].text != "mtlsctl --version\n" || got[3].lang != "sh" {
		t.Errorf("block 4: %+v", got[3])
	}
	if got[4].lang != "text" || got[4].text != "out\n" {
		t.Errorf("an indented block: %+v", got[4])
	}
}

// TestDocsLinksResolve: every relative link of the README and docs/ names
// a file that exists, and a #fragment a heading of that page. The
// generated reference (cli.md, mtlsctl.1) is made by go generate and is
// not checked here.
func TestDocsLinksResolve(t *testing.T) {
	linkRE := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	anchors := func(page string) map[string]bool {
		data, err := os.ReadFile(page)
		if err != nil {
			return nil
		}
		out := map[string]bool{}
		for _, line := range strings.Split(string(data), "\n") {
			if h, ok := strings.CutPrefix(line, "#"); ok {
				h = strings.ToLower(strings.TrimSpace(strings.TrimLeft(h, "#")))
				h = regexp.MustCompile(`[^a-z0-9 _-]`).ReplaceAllString(h, "")
				out[strings.ReplaceAll(h, " ", "-")] = true
			}
		}
		return out
	}
	for _, page := range docPages(t) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range linkRE.FindAllStringSubmatch(string(data), -1) {
			link := m[1]
			if strings.Contains(link, "://") {
				continue
			}
			file, frag, _ := strings.Cut(link, "#")
			target := page
			if file != "" {
				target = filepath.Join(filepath.Dir(page), file)
			}
			if base := filepath.Base(target); base == "cli.md" || base == "mtlsctl.1" {
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s links to %s: %v", page, link, err)
				continue
			}
			if frag != "" && !anchors(target)[frag] {
				t.Errorf("%s links to %s: no such heading", page, link)
			}
		}
	}
}
