package commands

import (
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

func clientCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "client",
		Usage: "issue client certificates",
		Subcommands: []*cli.Command{
			clientIssueCommand(u),
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

EXAMPLES:
   mtlsctl client issue                                  # the guide's client-csr.json
   mtlsctl client issue --dir pki --cn "James Royal"     # built-in request
   mtlsctl client issue --cn device-7 --name device-7 --key-type ecdsa-256
   mtlsctl client issue --issuer intermediate --cn device-1 --name device-1

` + exitCodeHelp,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "csr", Usage: "client request `FILE` in cfssl's CSR JSON (default DIR/client-csr.json; - for stdin)"},
			&cli.StringFlag{Name: "cn", Usage: "the certificate's common `NAME` (overrides the request's CN)"},
			configFlag(),
			&cli.StringFlag{Name: "ca", Usage: "CA certificate `FILE` (default DIR/ca.pem)"},
			&cli.StringFlag{Name: "ca-key", Usage: "CA private key `FILE` (default DIR/ca-key.pem)"},
			&cli.StringFlag{Name: "issuer", Usage: "sign with DIR/`NAME`.pem and DIR/NAME-key.pem (e.g. intermediate); also writes BASE-fullchain.pem"},
			&cli.StringFlag{Name: "profile", Value: pkix.ClientProfile, Usage: "signing profile in the configuration"},
			&cli.StringFlag{Name: "name", Value: "client", Usage: "output base `NAME`: NAME.pem, NAME-key.pem, NAME.csr"},
			&cli.StringFlag{Name: "key-type", Usage: "override the request's key: rsa-2048, rsa-4096, ecdsa-256, ecdsa-384, ..."},
			forceFlag(),
			jsonFlag(),
		},
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if err := noArgs(c); err != nil {
				return err
			}
			return runClientIssue(u, c)
		},
	}
}

func runClientIssue(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "csr", "config", "ca", "ca-key"); err != nil {
		return err
	}
	res := newResult("client issue")
	base := c.String("name")
	if err := checkBaseName(base); err != nil {
		return err
	}
	profile := c.String("profile")

	// Inputs first: request, configuration and profile, CA and key.
	req, err := loadClientRequest(c, dir)
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, req.Notes...)
	cfgPath, _ := inputPath(c, "config", dir, "ca-config.json")
	cfg, err := loadFile(c, cfgPath, pkix.LoadSigningConfig, "run 'mtlsctl ca init' first, or pass --config")
	if err != nil {
		return err
	}
	if _, err := cfg.Profile(profile); err != nil {
		return err
	}
	certKind := "client certificate"
	if !cfg.ProfileHasUsage(profile, "client auth") {
		certKind = "certificate (profile " + profile + ")"
		res.Warnings = append(res.Warnings, fmt.Sprintf("profile %q has no \"client auth\": Access will not accept this certificate from a client", profile))
	}
	issuer, above, err := loadIssuer(c, dir, cfg)
	if err != nil {
		return err
	}
	// Under an intermediate, a client must present its leaf and the
	// intermediates (never the root): BASE-fullchain.pem.
	fullchain := !pkix.IsSelfSigned(issuer.Cert)
	outputs := plannedSet(dir, base)
	if fullchain {
		outputs = append(outputs, pkix.File{Path: filepath.Join(dir, base+"-fullchain.pem")})
	}
	force := c.Bool("force")
	if err := refuseInputs(c, dir, outputs); err != nil {
		return err
	}
	if !force {
		if err := pkix.CheckFree(outputs); err != nil {
			return err
		}
	}

	issued, warnings, err := issuer.Issue(req, profile)
	if err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, warnings...)

	files := fileSet(dir, base, certKind, issued)
	if fullchain {
		chain := []*x509.Certificate{issued.Cert, issuer.Cert}
		for _, a := range above {
			if !pkix.IsSelfSigned(a) {
				chain = append(chain, a)
			}
		}
		files = append(files, pkix.File{Path: filepath.Join(dir, base+"-fullchain.pem"), Data: pkix.OrderedPEM(chain), Mode: pkix.ModePublic, Kind: "leaf + intermediates"})
	}
	written, err := pkix.WriteFiles(files, force)
	if err != nil {
		return err
	}
	sum := pkix.Summarize(issued.Cert)
	res.Cert = &sum
	res.addWritten(written, map[string]*pkix.CertSummary{filepath.Join(dir, base+".pem"): &sum})
	return u.report(res, c.Bool("json"))
}

func loadClientRequest(c *cli.Context, dir string) (*pkix.Request, error) {
	req, err := loadRequestOrBuiltin(c, dir, "client-csr.json", pkix.ClientRequest)
	if err != nil {
		return nil, err
	}
	return req, applyKeyType(c, req)
}

// loadRequestOrBuiltin reads --csr FILE, else DIR/name, else the built-in
// request with --cn; --cn also overrides the CN of a file.
func loadRequestOrBuiltin(c *cli.Context, dir, name string, kind pkix.RequestKind) (*pkix.Request, error) {
	cn, err := cnFlag(c)
	if err != nil {
		return nil, err
	}
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

// cnFlag checks --cn the way a request file's CN is checked.
func cnFlag(c *cli.Context) (string, error) {
	cn := c.String("cn")
	if c.IsSet("cn") && strings.TrimSpace(cn) == "" {
		return "", usageErrorf("--cn is empty").hint(`give the certificate a name, e.g. --cn "James Royal"`)
	}
	if err := pkix.CheckCN(cn); err != nil {
		return "", usageErrorf("--cn: %s", err.Msg)
	}
	return cn, nil
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

// issuerFiles resolves the signing CA: --issuer NAME means DIR/NAME.pem and
// DIR/NAME-key.pem; otherwise --ca / --ca-key, defaulting to the root.
func issuerFiles(c *cli.Context, dir string) (certPath, keyPath string, err error) {
	if name := c.String("issuer"); name != "" {
		if err := checkBaseName(name); err != nil {
			return "", "", err
		}
		if c.IsSet("ca") || c.IsSet("ca-key") {
			return "", "", usageErrorf("--issuer and --ca/--ca-key both name the signing CA").hint("use one or the other")
		}
		return filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem"), nil
	}
	certPath, _ = inputPath(c, "ca", dir, "ca.pem")
	keyPath, _ = inputPath(c, "ca-key", dir, "ca-key.pem")
	return certPath, keyPath, nil
}

// loadIssuer reads the CA certificate and key and checks they belong
// together. The CA file may be a bundle: the issuer first, then the
// certificates above it, which are returned as its chain.
func loadIssuer(c *cli.Context, dir string, cfg *pkix.SigningConfig) (*pkix.Issuer, []*x509.Certificate, error) {
	caPath, keyPath, err := issuerFiles(c, dir)
	if err != nil {
		return nil, nil, err
	}
	certs, err := loadFile(c, caPath, pkix.ParseCertificatesPEM, "run 'mtlsctl ca init' first, or pass --ca")
	if err != nil {
		return nil, nil, err
	}
	key, err := loadFile(c, keyPath, pkix.ParseKeyPEM, "pass the CA key with --ca-key")
	if err != nil {
		return nil, nil, err
	}
	is, err := pkix.NewIssuer(caPath, certs[0], keyPath, key, cfg)
	if err != nil {
		return nil, nil, err
	}
	return is, certs[1:], nil
}

// loadFile reads path ("-" is stdin) and parses it; a missing file gets
// missingHint.
func loadFile[T any](c *cli.Context, path string, parse func(string, []byte) (T, error), missingHint string) (T, error) {
	var zero T
	data, err := pkix.ReadInput(path, c.App.Reader)
	if err != nil {
		if pe, ok := err.(*pkix.Error); ok && pe.Msg == "no such file" && missingHint != "" {
			pe.Hint = missingHint
		}
		return zero, err
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

// refuseInputs applies refuseOverwritingInputs to the inputs every issuing
// command reads.
func refuseInputs(c *cli.Context, dir string, outputs []pkix.File) error {
	caPath, keyPath, err := issuerFiles(c, dir)
	if err != nil {
		return err
	}
	cfgPath, _ := inputPath(c, "config", dir, "ca-config.json")
	return refuseOverwritingInputs(outputs, caPath, keyPath, cfgPath, c.String("csr"))
}
