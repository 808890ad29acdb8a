package commands

import (
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

// Flags shared by several commands, with the environment variables CI
// scripts use instead of long command lines.
func dirFlag() cli.Flag {
	return &cli.StringFlag{Name: "dir", Aliases: []string{"d"}, Value: ".", EnvVars: []string{"MTLSCTL_DIR"},
		Usage: "the PKI `DIR`ectory: default inputs are read from it and outputs written to it"}
}

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", EnvVars: []string{"MTLSCTL_CONFIG"},
		Usage: "cfssl signing configuration `FILE` (default DIR/ca-config.json; - for stdin)"}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print one JSON document instead of text"}
}

func forceFlag() cli.Flag {
	return &cli.BoolFlag{Name: "force", Usage: "replace existing outputs, keeping each old file as NAME.bak"}
}

// Flags of the verbs that sign with a CA of the directory: client issue,
// client sign, ca intermediate and crl build. Without them the
// directory's root (or --issuer's CA) signs.
func signingCAFlag() cli.Flag {
	return &cli.StringFlag{Name: "ca", Usage: "the signing CA's certificate `FILE` (default DIR/ca.pem); may be a bundle, issuer first"}
}

func signingCAKeyFlag() cli.Flag {
	return &cli.StringFlag{Name: "ca-key", Usage: "the signing CA's private key `FILE` (default DIR/ca-key.pem)"}
}

// issuerFlag picks the CA that signs a client certificate (client issue,
// client sign).
func issuerFlag() cli.Flag {
	return &cli.StringFlag{Name: "issuer", Usage: "sign with DIR/`NAME`.pem and DIR/NAME-key.pem (ca: the root); default: the directory's one intermediate, else the root; under an intermediate also writes BASE-fullchain.pem"}
}

// keyTypeFlag is the type of a key the verb makes; which key it takes
// after when the flag is absent (def) differs from verb to verb.
func keyTypeFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "key-type", DefaultText: def,
		Usage: "the new key's `TYPE` and size: rsa-2048, rsa-4096, ecdsa-256, ecdsa-384, ..."}
}

// nextUpdateFlag is the validity of the CRLs a verb builds; needs names
// the flag without which it builds none ("" when it always does).
func nextUpdateFlag(needs string) cli.Flag {
	return &cli.StringFlag{Name: "next-update", Value: "7d", Usage: withFlag(needs, "how long each CRL built is valid, a `DURATION`: 7d, 30d, 168h")}
}

// The Worker's settings, for worker build and cloudflare push --deploy.
func graceFlag(needs string) cli.Flag {
	return &cli.StringFlag{Name: "grace", Value: "24h", Usage: withFlag(needs, "how long past a CRL's next update its data is still used, a `DURATION`")}
}

func failOpenFlag(needs string) cli.Flag {
	return &cli.BoolFlag{Name: "fail-open", Usage: withFlag(needs, "with stale data, let requests through and log (default: refuse)")}
}

func kvNamespaceFlag() cli.Flag {
	return &cli.StringFlag{Name: "kv-namespace-id", EnvVars: []string{"MTLSCTL_KV_NAMESPACE_ID"}, Usage: "the Workers KV namespace `ID` that holds the revocation data the Worker reads"}
}

// workerHostnameFlag: def says which hostnames are routed without it.
func workerHostnameFlag(needs, def string) cli.Flag {
	return &cli.StringSliceFlag{Name: "hostname", DefaultText: def, Usage: withFlag(needs, "a `HOSTNAME` to route to the Worker (repeatable)")}
}

// csrFlag is the cfssl request a verb issues from when no --cn alone
// will do; def is the file the directory holds for it.
func csrFlag(def string) cli.Flag {
	return &cli.StringFlag{Name: "csr", DefaultText: def, Usage: "the request `FILE` in cfssl's CSR JSON (- for stdin)"}
}

// clientProfileFlag is the profile client issue and client sign sign with.
func clientProfileFlag() cli.Flag {
	return &cli.StringFlag{Name: "profile", Value: cfsslconf.ClientProfile, Usage: "signing profile in the configuration"}
}

// lintStrictFlag: ca validate's --strict, which cloudflare upload runs too.
func lintStrictFlag() cli.Flag {
	return &cli.BoolFlag{Name: "strict", Usage: "RFC 5280 lint findings fail the validation, not only warn"}
}

func passwordFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "password-file", Usage: "the PKCS#12 password, read from `FILE` (or set MTLSCTL_P12_PASSWORD)"}
}

// Flags that share a name with the ones above but mean something else
// in their verb: named for what they are there.

// serveJSONFlag is serve's log format, not one JSON document.
func serveJSONFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "access log as JSON lines on stdout (banner and shutdown on stderr)"}
}

// inspectDirFlag is where inspect looks for a key's certificates; inspect
// works without a PKI directory, so it has no default.
func inspectDirFlag() cli.Flag {
	return &cli.StringFlag{Name: "dir", Aliases: []string{"d"}, EnvVars: []string{"MTLSCTL_DIR"},
		Usage: "where to look for the certificates of a key (default: the key file's directory)"}
}

func withFlag(needs, usage string) string {
	if needs == "" {
		return usage
	}
	return "with " + needs + ": " + usage
}

// inputPath resolves an input: the flag's value if given (relative to the
// current directory, like any path typed in a shell), else def, the file
// the PKI directory names for it (pkidir.Dir.CA, File).
func inputPath(c *cli.Context, flag, def string) (path string, explicit bool) {
	if v := c.String(flag); v != "" {
		return v, true
	}
	return def, false
}

// noArgs refuses stray positional arguments. urfave/cli stops parsing flags
// at the first argument, so "--json" after one would be silently ignored;
// say so instead.
func noArgs(c *cli.Context) error {
	if c.Args().Len() == 0 {
		return nil
	}
	a := c.Args().First()
	if strings.HasPrefix(a, "-") {
		return usageErrorf("flag %s came after an argument", a).hint("put flags before arguments: see '%s --help'", c.Command.HelpName)
	}
	return usageErrorf("unexpected argument %q", a).hint("see '%s --help'", c.Command.HelpName)
}

// parseDuration is pkix.ParseDuration for a flag: days ("30d") or Go
// units ("8760h"), positive, at most 100 years.
func parseDuration(flag, s string) (time.Duration, error) {
	d, err := cfsslconf.ParseDuration(s)
	if err != nil {
		if strings.Contains(err.Error(), "100 years") {
			return 0, usageErrorf("--%s %s", flag, err)
		}
		return 0, usageErrorf("--%s %s", flag, err).hint(`use days ("1825d") or Go units ("43800h")`)
	}
	return d, nil
}

// refuseOverwritingInputs stops an output from landing on one of the
// command's own inputs (say --name ca --force, or --out ca-key.pem), which
// would destroy the CA key or certificate even with --force: its backup
// would be the only copy left.
//
// Only outputs that may exist (replace is true: --force, or a file rebuilt
// in place) need a look on disk; the others are refused by CheckFree if
// they exist, so a batch without --force costs no extra stat per file.
func refuseOverwritingInputs(outputs []atomicfile.File, replace bool, inputs ...string) error {
	// Each input is looked at once and each output once (a batch has
	// thousands of outputs): equal absolute paths, or, for an output that
	// already exists, the same file under another name.
	type input struct {
		abs  string
		info os.FileInfo
	}
	var ins []input
	for _, in := range inputs {
		if in == "" || in == "-" {
			continue
		}
		abs, _ := filepath.Abs(in)
		info, _ := os.Stat(in)
		ins = append(ins, input{abs, info})
	}
	refuse := func(path string) error {
		return &pkix.Error{File: path, Msg: "is also an input of this command; refusing to write over it", Hint: "choose another --name or --out"}
	}
	for _, o := range outputs {
		abs, _ := filepath.Abs(o.Path)
		for _, in := range ins {
			if abs == in.abs {
				return refuse(o.Path)
			}
		}
		if !replace {
			continue
		}
		info, err := os.Stat(o.Path)
		if err != nil {
			continue // does not exist: cannot be an input
		}
		for _, in := range ins {
			if in.info != nil && os.SameFile(info, in.info) {
				return refuse(o.Path)
			}
		}
	}
	return nil
}

// oneStdin refuses two inputs that both say "-": only one can have stdin.
func oneStdin(c *cli.Context, flags ...string) error {
	var from []string
	if c.Args().First() == "-" {
		from = append(from, "the argument")
	}
	for _, f := range flags {
		if c.String(f) == "-" {
			from = append(from, "--"+f)
		}
	}
	if len(from) > 1 {
		return usageErrorf("only one input can come from stdin, but %s all say -", strings.Join(from, " and ")).hint("give the others as files")
	}
	return nil
}

// pkiDir returns --dir, refusing an empty one before any work is done.
func pkiDir(c *cli.Context) (string, error) {
	dir := c.String("dir")
	if strings.TrimSpace(dir) == "" {
		return "", usageErrorf("--dir is empty").hint("use --dir . for the current directory")
	}
	return dir, nil
}

// openDir is the PKI directory of --dir.
func openDir(c *cli.Context) (*pkidir.Dir, error) {
	dir, err := pkiDir(c)
	if err != nil {
		return nil, err
	}
	return pkidir.Open(dir)
}

// openRepaired is openDir for a command that changes the directory: what
// an interrupted mtlsctl left is finished first, and said, before any
// input is read (and even if the command then fails).
func openRepaired(u *ui, c *cli.Context) (*pkidir.Dir, error) {
	d, err := openDir(c)
	if err != nil {
		return nil, err
	}
	repaired, err := d.Recover(c.Context)
	for _, r := range repaired {
		u.note("%s", r)
	}
	return d, err
}
