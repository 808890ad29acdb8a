package main

import (
	"bytes"
	"os"
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
