package commands

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The scripts ask mtlsctl itself for candidates (urfave/cli's
// --generate-bash-completion), so they never go stale.
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
		OnUsageError: usageErrorHandler,
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
