package commands

import (
	"path/filepath"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "client",
		Usage: "issue, list, revoke and export client certificates",
		Subcommands: []*cli.Command{
			clientIssueCommand(u),
			clientListCommand(u),
			clientRevokeCommand(u),
			clientExportCommand(u),
		},
		Action: groupAction,
	}
}

func clientIssueCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "issue",
		Usage: "issue a client certificate: client.pem, client-key.pem, client.csr",
		Description: `Issues a client certificate signed by the CA in DIR with the "client" profile
of ca-config.json, as "cfssl gencert -profile=client ... | cfssljson -bare
client" does, but: an unknown profile is an error (cfssl silently falls back
to "default"), empty "hosts" entries are dropped (cfssl issues an invalid
empty subjectAltName), the CA key must match the CA certificate, and
existing files are never overwritten.

The request is --csr FILE, else DIR/client-csr.json, else the built-in
request (the guide's) with the CN given by --cn. --cn also overrides the
CN of a request file.

A batch: several --cn, or --cn-file with one CN per line. Each certificate
is named from its CN (letters, digits, '.', '_', '-'; anything else '-').
The whole batch is checked (names, collisions with existing files, CA,
configuration) before any key is made, then issued on all cores; if one
fails, the others are still written whole and recorded, and the summary and
exit code (2) name the CNs that were not issued. A progress bar shows on a
terminal; a summary line is always printed to stderr.

Every certificate is recorded in DIR/inventory.tsv, under a lock that lets
parallel jobs issue into one directory.

EXAMPLES:
   mtlsctl client issue                                  # the guide's client-csr.json
   mtlsctl client issue --dir pki --cn "James Royal"     # built-in request
   mtlsctl client issue --cn device-7 --name device-7 --key-type ecdsa-256
   mtlsctl client issue --issuer intermediate --cn device-1 --name device-1
   mtlsctl client issue --cn-file devices.txt --key-type ecdsa-256     # a fleet, on all cores

` + exitCodeHelp,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "csr", Usage: "client request `FILE` in cfssl's CSR JSON (default DIR/client-csr.json; - for stdin)"},
			&cli.StringSliceFlag{Name: "cn", Usage: "the certificate's common `NAME` (overrides the request's CN); repeat for a batch"},
			&cli.StringFlag{Name: "cn-file", Usage: "issue one certificate per line of `FILE` (# comments); - for stdin"},
			configFlag(),
			&cli.StringFlag{Name: "ca", Usage: "CA certificate `FILE` (default DIR/ca.pem)"},
			&cli.StringFlag{Name: "ca-key", Usage: "CA private key `FILE` (default DIR/ca-key.pem)"},
			&cli.StringFlag{Name: "issuer", Usage: "sign with DIR/`NAME`.pem and DIR/NAME-key.pem (e.g. intermediate); also writes BASE-fullchain.pem"},
			&cli.StringFlag{Name: "profile", Value: pkix.ClientProfile, Usage: "signing profile in the configuration"},
			&cli.StringFlag{Name: "name", Value: "client", Usage: "output base `NAME`: NAME.pem, NAME-key.pem, NAME.csr"},
			&cli.StringFlag{Name: "key-type", Usage: "override the request's key: rsa-2048, rsa-4096, ecdsa-256, ecdsa-384, ..."},
			&cli.BoolFlag{Name: "p12", Usage: "also write BASE.p12 (key + certificate + chain); see 'client export'"},
			forceFlag(),
			jsonFlag(),
		}, p12Flags()...),
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runClientIssue(u, c)
		},
	}
}

// loadRequestOrBuiltin reads --csr FILE, else DIR/name, else the built-in
// request with the given CN; a CN also overrides the CN of a file.
func loadRequestOrBuiltin(c *cli.Context, dir, name string, kind pkix.RequestKind, cn string) (*pkix.Request, error) {
	path, explicit := inputPath(c, "csr", dir, name)
	if !explicit && !pkix.Exists(path) {
		if cn == "" {
			return nil, &pkix.Error{File: path, Msg: "no such file, and no --cn given",
				Hint: `pass --cn "NAME" to use the built-in request, or --csr FILE`}
		}
		return pkix.DefaultRequest(cn, kind), nil
	}
	req, err := loadFile(c, path, func(name string, data []byte) (*pkix.Request, error) {
		return pkix.LoadRequest(name, data, kind)
	}, "")
	if err != nil {
		return nil, err
	}
	if cn != "" {
		req.CR.CN = cn
	}
	return req, nil
}

// checkCNFlag checks a --cn value the way a request file's CN is checked.
func checkCNFlag(cn string) error {
	if strings.TrimSpace(cn) == "" {
		return usageErrorf("--cn is empty").hint(`give the certificate a name, e.g. --cn "James Royal"`)
	}
	if err := pkix.CheckCN(cn); err != nil {
		return usageErrorf("--cn: %s", err.Msg)
	}
	return nil
}

// applyKeyType applies --key-type to a request.
func applyKeyType(c *cli.Context, req *pkix.Request) error {
	kt := c.String("key-type")
	if kt == "" {
		return nil
	}
	kr, err := pkix.ParseKeyType(kt)
	if err != nil {
		return usageErrorf("--key-type %s: %s", kt, err.(*pkix.Error).Msg).hint("use rsa-2048, rsa-4096, ecdsa-256, ecdsa-384 or ed25519")
	}
	req.CR.KeyRequest = kr
	return nil
}

// loadSigner reads the signing CA: --issuer NAME (the directory's
// intermediate), --ca/--ca-key files (a bundle: the issuer first, then the
// certificates above it), or the directory's root.
func loadSigner(c *cli.Context, d *pkidir.Dir, cfg *pkix.SigningConfig) (*pkidir.Signer, error) {
	name := c.String("issuer")
	if name != "" {
		if err := checkBaseName(name); err != nil {
			return nil, err
		}
		if c.IsSet("ca") || c.IsSet("ca-key") {
			return nil, usageErrorf("--issuer and --ca/--ca-key both name the signing CA").hint("use one or the other")
		}
		return d.LoadSigner(name, pkidir.CAInput{}, cfg)
	}
	in, err := loadCAInput(c, d)
	if err != nil {
		return nil, err
	}
	return d.LoadSigner("", in, cfg)
}

// loadCAInput reads --ca and --ca-key when given (either may be stdin);
// without them the directory's root is used.
func loadCAInput(c *cli.Context, d *pkidir.Dir) (pkidir.CAInput, error) {
	if !c.IsSet("ca") && !c.IsSet("ca-key") {
		return pkidir.CAInput{}, nil
	}
	root := d.CA(pkidir.RootName)
	certPath, _ := inputPath(c, "ca", d.Path(), filepath.Base(root.Cert))
	keyPath, _ := inputPath(c, "ca-key", d.Path(), filepath.Base(root.Key))
	certs, err := loadFile(c, certPath, pkix.ParseCertificatesPEM, "run 'mtlsctl ca init' first, or pass --ca")
	if err != nil {
		return pkidir.CAInput{}, err
	}
	key, err := loadFile(c, keyPath, pkix.ParseKeyPEM, "pass the CA key with --ca-key")
	if err != nil {
		return pkidir.CAInput{}, err
	}
	return pkidir.CAInput{CertFile: stdinLabel(certPath), KeyFile: stdinLabel(keyPath), Certs: certs, Key: key}, nil
}

// loadConfig reads --config, else DIR/ca-config.json.
func loadConfig(c *cli.Context, d *pkidir.Dir) (*pkix.SigningConfig, error) {
	cfgPath, _ := inputPath(c, "config", d.Path(), pkidir.ConfigName)
	return loadFile(c, cfgPath, pkix.LoadSigningConfig, "run 'mtlsctl ca init' first, or pass --config")
}

// loadFile reads path ("-" is stdin) and parses it; a missing file gets
// missingHint.
func loadFile[T any](c *cli.Context, path string, parse func(string, []byte) (T, error), missingHint string) (T, error) {
	var zero T
	data, err := pkix.ReadInput(path, c.App.Reader)
	if err != nil {
		return zero, withMissingHint(err, missingHint)
	}
	if path == "-" {
		path = "stdin"
	}
	return parse(path, data)
}

// checkBaseName keeps --name a plain file name: no directories, nothing
// that could land outside DIR or hide as a dotfile.
func checkBaseName(base string) error {
	switch {
	case base == "":
		return usageErrorf("--name is empty")
	case strings.ContainsAny(base, `/\`) || base == "." || base == "..":
		return usageErrorf("--name %q must be a plain file name, not a path", base).hint("use --dir to choose the directory")
	case strings.HasPrefix(base, ".") || strings.HasPrefix(base, "-"):
		return usageErrorf("--name %q must not start with '.' or '-'", base)
	case strings.ContainsFunc(base, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return usageErrorf("--name %q contains control characters", base)
	}
	return nil
}

// refuseInputs refuses, before any key is made, outputs that would land
// on an input of the command, even with --force.
func refuseInputs(c *cli.Context, d *pkidir.Dir, jobs []pkidir.Job) error {
	var outputs []pkix.File
	for _, j := range jobs {
		lf := d.Leaf(j.Name)
		for _, p := range []string{lf.Cert, lf.Key, lf.CSR, lf.Fullchain, lf.P12} {
			outputs = append(outputs, pkix.File{Path: p})
		}
	}
	root := d.CA(pkidir.RootName)
	inputs := []string{c.String("csr"), c.String("ca"), c.String("ca-key"), c.String("config"), root.Cert, root.Key, d.File(pkidir.ConfigName)}
	if name := c.String("issuer"); name != "" {
		inputs = append(inputs, d.CA(name).Cert, d.CA(name).Key)
	}
	return refuseOverwritingInputs(outputs, c.Bool("force"), inputs...)
}
