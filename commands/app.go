// Package commands is mtlsctl's command-line interface: flags, reading
// the files they name, printing and exit codes, one file per command verb
// (client_issue.go, crl_build.go, ...). Every decision about certificates
// is a call into package pkix, and every change to a PKI directory one
// call into pkix/pkidir.
package commands

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/urfave/cli/v2"
)

// Exit codes, documented in the README and in `mtlsctl --help`. Decided
// once for every command: 2 always means "nothing was changed", 3 that
// part of the work was done and recorded (see the summary), and a signal
// gives the shell's 128+N after the work in flight is recorded.
const (
	ExitOK       = 0   // success
	ExitProblems = 1   // a check ran and found problems
	ExitError    = 2   // usage, input or I/O error: nothing was changed
	ExitPartial  = 3   // part of the work was done and recorded, part not: see the summary
	ExitSIGINT   = 130 // interrupted by SIGINT (Ctrl-C): what was in flight was finished and recorded
	ExitSIGTERM  = 143 // interrupted by SIGTERM (a cancelled CI job): likewise
)

const exitCodeHelp = `EXIT CODES (the same for every command):
   0  success, or nothing to do ("unchanged", "nothing due")
   1  a check ran and found problems (ca validate, check, crl show; and
      cloudflare upload, whose CA fails 'ca validate': nothing was sent)
   2  usage, input or I/O error (or credentials, or an API error); the
      command changed nothing (a repair of an earlier interrupted command,
      if one was needed, is noted)
   3  partly done: some certificates of a batch were issued or renewed and
      recorded, others not, or some Cloudflare writes were applied and
      others not (the summary names each; rerun the same command, it does
      only what is missing), or a change was committed but not finished,
      such as renew --revoke-old's revocations (the next command in the
      directory finishes it)
   130 (SIGINT), 143 (SIGTERM): interrupted; certificates in flight were
      finished and recorded, none was started after the signal, and what
      was applied is said
   serve and signer serve stop normally on SIGINT or SIGTERM: exit 0`

// verbExitCodes is the codes each verb can exit with, by exitCodeHelp's
// table; exitcodes_test.go runs each verb into each. A signal gives
// 130/143 only to a verb that can still be waiting or working when it
// comes (on an input pipe, a batch, the API); the others finish first, and
// serve and signer serve stop with 0. Any verb that changes the directory
// can also exit 3 when an I/O error strikes after its change is committed
// (pkidir.ErrUnfinished): that needs a failing disk, so it is left out
// here and tested by the crash tests.
var verbExitCodes = map[string][]int{
	"ca init":               {0, 2},
	"ca validate":           {0, 1, 2, 130, 143},
	"ca intermediate":       {0, 2},
	"check":                 {0, 1, 2},
	"client issue":          {0, 2, 3, 130, 143},
	"client request":        {0, 2},
	"client sign":           {0, 2, 3, 130, 143},
	"client list":           {0, 2},
	"client export":         {0, 2, 130, 143},
	"client renew":          {0, 2, 3, 130, 143},
	"client revoke":         {0, 2},
	"crl build":             {0, 2, 130, 143},
	"crl export":            {0, 2},
	"crl show":              {0, 1, 2, 130, 143},
	"inspect":               {0, 2, 130, 143},
	"serve":                 {0, 2},
	"worker build":          {0, 2},
	"cloudflare upload":     {0, 1, 2, 3, 130, 143},
	"cloudflare list":       {0, 2, 130, 143},
	"cloudflare delete":     {0, 2, 3, 130, 143},
	"cloudflare forwarding": {0, 2, 3, 130, 143},
	"cloudflare push":       {0, 2, 3, 130, 143},
	"signer init":           {0, 2},
	"signer runner":         {0, 2},
	"signer serve":          {0, 2},
	"completion":            {0, 2},
}

// Run runs mtlsctl with the given arguments and streams and returns the
// process exit code. It never calls os.Exit, so tests can run it in-process.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, sigs := watchSignals(context.Background())
	defer sigs.stop()
	code := RunContext(ctx, args, stdin, stdout, stderr)
	if sig := sigs.caught(); sig != 0 && code != ExitOK && code != ExitProblems {
		return 128 + sig
	}
	return code
}

// RunContext is Run with the caller's context: when it is done, a batch
// starts no new certificate and records those in flight.
func RunContext(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ui := newUI(stdout, stderr)
	app := newApp(ui, stdin)
	quietCfssl()

	args, err := reorderArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err == nil && ui.pendingErr != nil {
		err = ui.pendingErr
	}
	if err == nil && ctx.Err() != nil && !ui.signalStops {
		// Everything was already in flight, so everything was done: say
		// that the signal arrived, and that nothing was lost to it.
		fmt.Fprintf(stderr, "mtlsctl: note: interrupted; the work in flight was finished and recorded\n")
	}
	if err == nil {
		return ExitOK
	}
	return ui.reportError(err)
}

func newApp(ui *ui, stdin io.Reader) *cli.App {
	app := &cli.App{
		Name:  "mtlsctl",
		Usage: "a PKI toolkit for mutual TLS with Cloudflare Access",
		Description: `mtlsctl makes a root CA, issues client certificates and builds CRLs the way
Cloudflare Access's mTLS guide does with cfssl, without its silent traps.

   mtlsctl ca init --dir pki                      # root CA (built-in defaults)
   mtlsctl client issue --dir pki --cn "James Royal"

` + exitCodeHelp,
		Version:              version(),
		Reader:               stdin,
		Writer:               ui.out,
		ErrWriter:            ui.err,
		EnableBashCompletion: true,
		HideHelpCommand:      true,
		Suggest:              true,
		// A CN such as "Doe, John" is one value, not two.
		DisableSliceFlagSeparator: true,
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "verbose", Usage: "show cfssl's log, and each Cloudflare API request (never a header), on stderr"},
			&cli.BoolFlag{Name: "no-color", Usage: "never color output (NO_COLOR is honoured too)"},
		},
		Before: func(c *cli.Context) error {
			if c.Bool("verbose") {
				stop := verboseCfssl(ui, ui.err)
				c.App.After = func(*cli.Context) error { stop(); return nil }
			}
			if c.IsSet("no-color") {
				ui.disableColor()
			}
			return nil
		},
		// The library must never exit the process or print errors itself:
		// Run reports every error once, in one format, with one exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   usageErrorHandler,
		CommandNotFound: func(c *cli.Context, name string) {
			ui.pendingErr = usageErrorf("unknown command %q", name).hint("see 'mtlsctl --help'")
		},
		Commands: []*cli.Command{
			caCommand(ui),
			clientCommand(ui),
			crlCommand(ui),
			inspectCommand(ui),
			serveCommand(ui),
			workerCommand(ui),
			cloudflareCommand(ui),
			signerCommand(ui),
			checkCommand(ui),
			completionCommand(ui),
		},
	}
	setLeafDefaults(app.Commands)
	recordHintFlags(ui, app.Commands)
	return app
}

// setLeafDefaults gives every verb (a command without subcommands) the
// one usage-error handler and the one exit-code table, and refuses stray arguments for the verbs
// that take none (no ArgsUsage): defined here once, not in each verb.
func setLeafDefaults(cmds []*cli.Command) {
	for _, cmd := range cmds {
		if len(cmd.Subcommands) > 0 {
			setLeafDefaults(cmd.Subcommands)
			continue
		}
		cmd.OnUsageError = usageErrorHandler
		cmd.Description = strings.TrimRight(cmd.Description, "\n") + "\n\n" + exitCodeHelp
		if cmd.ArgsUsage != "" || cmd.Action == nil {
			continue
		}
		action := cmd.Action
		cmd.Action = func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return action(c)
		}
	}
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return fmt.Sprintf("%s, %s, cfssl %s", v, info.GoVersion, depVersion(info, "github.com/cloudflare/cfssl"))
}

func depVersion(info *debug.BuildInfo, path string) string {
	for _, d := range info.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
}

// usageError is a mistake in how mtlsctl was called.
type usageError struct {
	msg, hintText string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) *usageError {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

func (e *usageError) hint(format string, args ...any) *usageError {
	e.hintText = fmt.Sprintf(format, args...)
	return e
}

func usageErrorHandler(c *cli.Context, err error, isSubcommand bool) error {
	name := "mtlsctl"
	if c.Command != nil && c.Command.HelpName != "" {
		name = c.Command.HelpName
	}
	msg := err.Error()
	if flag, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		flag = strings.TrimPrefix(flag, "-")
		shown := "--" + flag
		if len(flag) == 1 {
			shown = "-" + flag // as typed: -d, not --d
		}
		e := usageErrorf("unknown flag %s", shown)
		if h := flagHint(c, flag); h != "" {
			return e.hint("%s", h)
		}
		return e.hint("see '%s --help'", name)
	}
	return usageErrorf("%s", msg).hint("see '%s --help'", name)
}

// flagHint says where a flag that is unknown here does belong: a global
// flag given after the command, a command's flag given before it, or a
// password given on the command line.
func flagHint(c *cli.Context, flag string) string {
	if flag == "password" || flag == "pass" {
		return "a password is never a flag value (it would show in ps and shell history): use --password-file FILE or MTLSCTL_P12_PASSWORD"
	}
	if flag == "token" || flag == "api-token" || flag == "api-key" {
		return "an API token is never a flag value (it would show in ps and shell history): set CLOUDFLARE_API_TOKEN or use --token-file FILE"
	}
	app := c.App
	top := c.Command == nil || c.Command.Name == "" || c.Command.HelpName == app.Name
	for _, f := range app.Flags {
		if slices.Contains(f.Names(), flag) && !top {
			return fmt.Sprintf("--%s is a global flag: put it before the command, e.g. 'mtlsctl --%s %s'", flag, flag, c.Command.HelpName[len("mtlsctl "):])
		}
	}
	if top {
		var users []string
		var walk func(prefix string, cmds []*cli.Command)
		walk = func(prefix string, cmds []*cli.Command) {
			for _, cmd := range cmds {
				for _, f := range cmd.Flags {
					if slices.Contains(f.Names(), flag) && len(cmd.Subcommands) == 0 {
						users = append(users, prefix+cmd.Name)
					}
				}
				walk(prefix+cmd.Name+" ", cmd.Subcommands)
			}
		}
		walk("", app.Commands)
		if len(users) > 0 {
			dash := "--"
			if len(flag) == 1 {
				dash = "-"
			}
			return fmt.Sprintf("%s%s belongs after the command, e.g. 'mtlsctl %s %s%s …'", dash, flag, users[0], dash, flag)
		}
	}
	return ""
}

// problemsFound is returned by check commands that ran fine but found
// something wrong; its message is a summary, the details were printed.
type problemsFound struct{ summary string }

func (e *problemsFound) Error() string { return e.summary }

// partlyDone is returned by a command that did part of its work and
// recorded it: exit 3.
type partlyDone struct{ error }

func (e partlyDone) Unwrap() error { return e.error }

func exitCode(err error) int {
	var problems *problemsFound
	var partial partlyDone
	switch {
	case errors.As(err, &problems):
		return ExitProblems
	case errors.As(err, &partial), errors.Is(err, dirtx.ErrUnfinished):
		return ExitPartial
	}
	return ExitError
}
