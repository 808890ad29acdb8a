package commands

import "github.com/urfave/cli/v2"

func caCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "ca",
		Usage: "create, check and extend certificate authorities (init, validate, intermediate)",
		Subcommands: []*cli.Command{
			caInitCommand(u),
			caValidateCommand(u),
			caIntermediateCommand(u),
		},
		Action: groupAction,
	}
}

// groupAction answers "mtlsctl ca frobnicate" with a usage error rather
// than urfave/cli's silent help and exit 0.
func groupAction(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("unknown command %q", c.Command.FullName()+" "+c.Args().First()).hint("see '%s --help'", c.Command.HelpName)
	}
	return cli.ShowSubcommandHelp(c)
}
