package commands

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// The scripts ask mtlsctl itself for candidates (urfave/cli's
// --generate-bash-completion protocol: the words so far, then the word
// being completed only when it starts with "-"), so they never go stale.
// mtlsctl answers that itself (completionArgs), before its flags are
// reordered or parsed.
const bashCompletion = `# mtlsctl bash completion: source <(mtlsctl completion bash)
_mtlsctl_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  local opts
  if [[ "$cur" == -* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _mtlsctl_complete mtlsctl
`

const zshCompletion = `#compdef mtlsctl
# mtlsctl zsh completion: source <(mtlsctl completion zsh)
_mtlsctl() {
  local -a opts
  local cur=${words[CURRENT]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:CURRENT-1} $cur --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:CURRENT-1} --generate-bash-completion 2>/dev/null)}")
  fi
  _describe 'mtlsctl' opts
}
compdef _mtlsctl mtlsctl
`

func completionCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Description: `EXAMPLES:
   source <(mtlsctl completion bash)
   mtlsctl completion fish > ~/.config/fish/completions/mtlsctl.fish`,
		Action: func(c *cli.Context) error {
			switch c.Args().First() {
			case "bash":
				fmt.Fprint(u.out, bashCompletion)
			case "zsh":
				fmt.Fprint(u.out, zshCompletion)
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(u.out, s)
			default:
				return usageErrorf("completion needs a shell: bash, zsh or fish").hint("mtlsctl completion bash")
			}
			return nil
		},
	}
}

const completionFlag = "--generate-bash-completion"

// completionArgs answers a completion request (args ending in
// --generate-bash-completion) itself: urfave/cli's own completion reads
// os.Args, offers help and h as subcommands of every command, offers no
// flags after "--" or "-", and reorderArgs would move the flag away from
// the end. It returns the arguments to run instead, which print the
// candidates, and true; or false when args are no completion request.
//
// The word being completed is passed only when it starts with "-"; a last
// word that is a whole flag is taken as typed before the cursor (offering
// it again would insert it twice), so after "--csr " nothing is offered
// and the shell completes a file name.
func completionArgs(app *cli.App, args []string) ([]string, bool) {
	if len(args) < 2 || args[len(args)-1] != completionFlag {
		return nil, false
	}
	words := args[1 : len(args)-1]
	cur := ""
	if n := len(words); n > 0 && strings.HasPrefix(words[n-1], "-") && !isWholeFlag(app, words) {
		cur, words = words[n-1], words[:n-1]
	}
	candidates := completions(app, words, cur)
	app.BashComplete = func(c *cli.Context) {
		for _, s := range candidates {
			fmt.Fprintln(c.App.Writer, s)
		}
	}
	return []string{args[0], completionFlag}, true
}

// completions lists what may come next after words, starting with cur:
// the flags of the command reached when cur starts with "-", else its
// subcommands. A command's positional arguments and a flag's value are
// left to the shell (file names): nothing is listed for them.
func completions(app *cli.App, words []string, cur string) []string {
	var cmd *cli.Command
	cmds, flags := app.Commands, app.Flags
	extra := []string{"--help", "--version"}
	expectValue := false
	for _, w := range words {
		switch {
		case expectValue:
			expectValue = false
		case w == "--":
			return nil // only arguments after it
		case strings.HasPrefix(w, "-") && w != "-":
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := flagNamed(flags, name); f != nil && !hasValue && takesValue(f) {
				expectValue = true
			}
		case cmd == nil || len(cmd.Subcommands) > 0:
			if next := findCommand(cmds, w); next != nil {
				cmd, cmds, flags, extra = next, next.Subcommands, next.Flags, []string{"--help"}
			}
		}
	}
	if expectValue {
		return nil
	}
	var out []string
	if strings.HasPrefix(cur, "-") {
		long := strings.HasPrefix(cur, "--")
		for _, f := range flags {
			if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
				continue
			}
			if flagGiven(words, f) && !repeatable(f) {
				continue
			}
			for _, n := range f.Names() {
				cand := "--" + n
				if len(n) == 1 {
					if long {
						continue
					}
					cand = "-" + n
				}
				if strings.HasPrefix(cand, cur) {
					out = append(out, cand)
				}
			}
		}
		for _, e := range extra {
			if strings.HasPrefix(e, cur) && !slices.Contains(words, e) {
				out = append(out, e)
			}
		}
		return out
	}
	if cmd != nil && len(cmd.Subcommands) == 0 {
		return nil // a file argument
	}
	for _, c := range cmds {
		if c.Hidden || c.Name == "help" {
			continue
		}
		if strings.HasPrefix(c.Name, cur) {
			out = append(out, c.Name)
		}
	}
	return out
}

// isWholeFlag reports whether the last of words names a flag of the
// command the words before it reach (or a global one) in full.
func isWholeFlag(app *cli.App, words []string) bool {
	last := words[len(words)-1]
	name := strings.TrimLeft(last, "-")
	if name == "" || strings.Contains(name, "=") {
		return false
	}
	flags := app.Flags
	cmds := app.Commands
	for _, w := range words[:len(words)-1] {
		if c := findCommand(cmds, w); c != nil {
			flags, cmds = c.Flags, c.Subcommands
		}
	}
	if last == "--help" || last == "--version" {
		return true
	}
	if flagNamed(flags, name) == nil {
		return false
	}
	if len(name) == 1 {
		return last == "-"+name
	}
	return last == "--"+name
}

func flagNamed(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}

func repeatable(f cli.Flag) bool {
	_, ok := f.(*cli.StringSliceFlag)
	return ok
}

// flagGiven reports whether one of f's names is among words.
func flagGiven(words []string, f cli.Flag) bool {
	for _, w := range words {
		name, _, _ := strings.Cut(strings.TrimLeft(w, "-"), "=")
		if strings.HasPrefix(w, "-") && slices.Contains(f.Names(), name) {
			return true
		}
	}
	return false
}
