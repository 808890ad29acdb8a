package commands

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves a leaf command's flags in front of its positional
// arguments. urfave/cli v2 stops reading flags at the first argument, so
// "mtlsctl crl build serials.txt --pem" would silently ignore --pem;
// people write flags last all the time. After "--" nothing is moved.
func reorderArgs(app *cli.App, args []string) ([]string, error) {
	if out, ok := completionArgs(app, args); ok {
		return out, nil // a shell asking for completions: see completion.go
	}
	if len(args) < 2 {
		return args, nil
	}
	// Global flags (all booleans) may come anywhere before "--": after
	// the command too ("mtlsctl check --no-color"), where the parser would
	// call them unknown. They are moved to the front, unless the command
	// has a flag of the same name.
	globals := flagArity(app.Flags)
	flagName := func(a string) string { n, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "="); return n }
	isGlobal := func(a string) bool { _, ok := globals[flagName(a)]; return ok }
	moved := []string{}
	head := []string{args[0]} // the program and its command path
	i := 1
	cmds := app.Commands
	var cmd *cli.Command
	path := "mtlsctl"
	for i < len(args) {
		a := args[i]
		if a == "--" {
			return args, nil
		}
		if strings.HasPrefix(a, "-") && (cmd == nil || isGlobal(a)) {
			moved = append(moved, a) // global flags are all booleans
			i++
			continue
		}
		next := findCommand(cmds, a)
		if next == nil {
			break
		}
		cmd, cmds = next, next.Subcommands
		path += " " + next.Name
		head = append(head, a)
		i++
		if len(cmds) == 0 {
			break
		}
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return join(head[:1], moved, head[1:], args[i:]), nil
	}
	takesValue := flagArity(cmd.Flags)
	var flags, positional []string
	rest := args[i:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		if a == "--" {
			positional = append(positional, rest[j+1:]...)
			return join(head[:1], moved, head[1:], flags, []string{"--"}, positional), nil
		}
		if strings.HasPrefix(a, "-") && a != "-" {
			name := strings.TrimLeft(a, "-")
			if _, own := takesValue[flagName(a)]; !own && isGlobal(a) {
				moved = append(moved, a)
				continue
			}
			if !strings.Contains(name, "=") && takesValue[name] {
				if j+1 == len(rest) {
					// Nothing after it: say so, rather than letting the
					// parser take the positional argument as its value.
					return nil, usageErrorf("flag %s needs a value", a).hint("see '%s --help'", path)
				}
				flags = append(flags, a, rest[j+1])
				j++
				continue
			}
			flags = append(flags, a)
			continue
		}
		positional = append(positional, a)
	}
	return join(head[:1], moved, head[1:], flags, positional), nil
}

// flagArity maps each name and alias of flags to whether it takes a
// value (every flag but a boolean).
func flagArity(flags []cli.Flag) map[string]bool {
	names := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			names[n] = !isBool
		}
	}
	return names
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

func join(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
