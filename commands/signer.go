package commands

import (
	"github.com/mtlsctl/mtlsctl/pkix/signer"
	"github.com/urfave/cli/v2"
)

func signerCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "signer",
		Usage: "one CA key on one host, many CI runners: cfssl's remote-signing API, locked down, recorded in PostgreSQL",
		Description: `The signing host keeps the CA key; runners send CSRs over TLS 1.3 with a
client certificate from a separate signer CA (DIR/signer) whose grant
says which profiles and CNs they may ask for, and an HMAC over each
request with a time and a nonce. Every certificate is recorded in
PostgreSQL (cfssl's certdb schema) before it is handed out.

   mtlsctl signer init  --dir pki --db postgres://signer@db/pki --host signer.internal
   mtlsctl signer runner --dir pki ci-runner-2 --cn 'ci-*'
   mtlsctl signer serve --dir pki --db postgres://signer@db/pki --addr :8888

The database URL may also come from MTLSCTL_SIGNER_DB; the HMAC key from
MTLSCTL_SIGNER_HMAC_FILE (a file) or MTLSCTL_SIGNER_HMAC (hex), never a
flag; by default DIR/signer/hmac.key.`,
		Subcommands: []*cli.Command{
			signerInitCommand(u),
			signerRunnerCommand(u),
			signerServeCommand(u),
		},
		Action: groupAction,
	}
}

func dbFlag() cli.Flag {
	return &cli.StringFlag{Name: "db", EnvVars: []string{"MTLSCTL_SIGNER_DB"}, Usage: "the PostgreSQL `URL` (postgres://user@host/db; a password from ~/.pgpass or PGPASSWORD)"}
}

// grantFlags are the runner grant's flags.
func grantFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "cn", Usage: "a CN `PATTERN` the runner may ask for (shell glob: 'ci-*'; repeatable)"},
		&cli.StringSliceFlag{Name: "profile", Usage: "a `PROFILE` the runner may name (repeatable; default client)"},
	}
}

func grantFrom(c *cli.Context, admin bool) signer.Grant {
	if admin {
		return signer.Grant{Role: signer.RoleAdmin}
	}
	profiles := c.StringSlice("profile")
	if len(profiles) == 0 {
		profiles = []string{"client"}
	}
	return signer.Grant{Role: signer.RoleRunner, Profiles: profiles, CNs: c.StringSlice("cn")}
}
