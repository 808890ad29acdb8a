package commands

import (
	"io"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

// TestSpellTables: every action pkix names is a verb of this CLI, and
// every option a flag of at least one of its commands, so a hint never
// sends the user to a command or flag that does not exist.
func TestSpellTables(t *testing.T) {
	app := newApp(newUI(io.Discard, io.Discard), nil)
	for a, verb := range actionVerbs {
		leaf, n := findLeaf(app.Commands, strings.Fields(verb))
		if leaf == nil || n != len(strings.Fields(verb)) {
			t.Errorf("action %d: %q is not a command", a, verb)
		}
	}
	flags := map[string]bool{}
	var walk func([]*cli.Command)
	walk = func(cmds []*cli.Command) {
		for _, c := range cmds {
			for f := range flagNames(c) {
				flags[f] = true
			}
			walk(c.Subcommands)
		}
	}
	walk(app.Commands)
	for o, f := range optionFlags {
		if !flags[f] {
			t.Errorf("option %d: no command has --%s", o, f)
		}
	}
}

// TestSpellSteps: a hint's words stay as pkix wrote them and each step
// becomes the verb or flag, so the printed text is what it was when pkix
// wrote the command line itself.
func TestSpellSteps(t *testing.T) {
	for _, c := range []struct {
		text pkix.Text
		want string
	}{
		{pkix.Textf("run '%s' first, or pass %s", pkix.ActMakeCA, pkix.OptDir), "run 'mtlsctl ca init' first, or pass --dir"},
		{pkix.Textf("use '%s'", pkix.Cmd(pkix.ActRenewClient, "web-1", pkix.OptRequest.With("FILE"))), "use 'mtlsctl client renew web-1 --request FILE'"},
		{pkix.Textf("did you mean %q? (see '%s')", "web", pkix.ActListClients), `did you mean "web"? (see 'mtlsctl client list')`},
		{pkix.Words("100% plain, no steps"), "100% plain, no steps"},
		{pkix.MoveAway, "move it away, choose another --name/--dir, or pass --force to keep the old file as a .bak copy"},
	} {
		if got := c.text.Spell(spell); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
}
