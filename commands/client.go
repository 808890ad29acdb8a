package commands

import "github.com/urfave/cli/v2"

func clientCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "client",
		Usage: "issue, list, revoke and export client certificates",
		Subcommands: []*cli.Command{
			clientIssueCommand(u),
			clientSignCommand(u),
			clientRequestCommand(u),
			clientRenewCommand(u),
			clientListCommand(u),
			clientRevokeCommand(u),
			clientExportCommand(u),
		},
		Action: groupAction,
	}
}
