package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// Reading what flags name: requests, configuration, the signing CA.

// loadRequestOrBuiltin reads --csr FILE, else def, else the built-in
// request with the given CN; a CN also overrides the CN of a file.
func loadRequestOrBuiltin(c *cli.Context, def string, kind cfsslconf.RequestKind, cn string) (*cfsslconf.Request, error) {
	path, explicit := inputPath(c, "csr", def)
	if !explicit && !atomicfile.Exists(path) {
		if cn == "" {
			return nil, &pkix.Error{File: path, Msg: "no such file, and no --cn given",
				Hint: `pass --cn "NAME" to use the built-in request, or --csr FILE`}
		}
		return cfsslconf.DefaultRequest(cn, kind), nil
	}
	req, err := loadFileAs(c, input.InputRequest, path, func(name string, data []byte) (*cfsslconf.Request, error) {
		return cfsslconf.LoadRequest(name, data, kind)
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
	if err := cfsslconf.CheckCN(cn); err != nil {
		return usageErrorf("--cn: %s", err.Msg)
	}
	return nil
}

// applyKeyType applies --key-type to a request.
func applyKeyType(c *cli.Context, req *cfsslconf.Request) error {
	kt := c.String("key-type")
	if kt == "" {
		return nil
	}
	kr, err := cfsslconf.ParseKeyType(kt)
	if err != nil {
		return usageErrorf("--key-type %s: %s", kt, err.(*pkix.Error).Msg).hint("use rsa-2048, rsa-4096, ecdsa-256, ecdsa-384 or ed25519")
	}
	req.CR.KeyRequest = kr
	req.KeyGiven = true
	return nil
}

// externalCRLFlags are --crl FILE --ca FILE, for CRLs made elsewhere.
func externalCRLFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "crl", Usage: "also a CRL `FILE` made elsewhere (repeatable; pair each with --ca)"},
		&cli.StringSliceFlag{Name: "ca", Usage: "the CA certificate `FILE` that signed the --crl in the same position"},
	}
}

// loadSigner reads the signing CA: --issuer NAME (the directory's
// intermediate, or ca for the root), --ca/--ca-key files (a bundle: the
// issuer first, then the certificates above it), or the directory's
// default issuer (its one intermediate, else the root), said in a note.
func loadSigner(c *cli.Context, d *pkidir.Dir, cfg *cfsslconf.SigningConfig, res *result) (*dirview.Signer, error) {
	name := c.String("issuer")
	if name == "" && !c.IsSet("ca") && !c.IsSet("ca-key") {
		def, err := d.DefaultIssuer(time.Now())
		if err != nil {
			return nil, err
		}
		if def != dirview.RootName {
			res.Notes = append(res.Notes, fmt.Sprintf("signing with the intermediate CA %q: the default issuer once the directory has one (--issuer %s signs with the root)", def, dirview.RootName))
		}
		return d.LoadSigner(def, dirview.CAInput{}, cfg)
	}
	if name != "" {
		if err := checkBaseName(name); err != nil {
			return nil, err
		}
		if c.IsSet("ca") || c.IsSet("ca-key") {
			return nil, usageErrorf("--issuer and --ca/--ca-key both name the signing CA").hint("use one or the other")
		}
		return d.LoadSigner(name, dirview.CAInput{}, cfg)
	}
	in, err := loadCAInput(c, d)
	if err != nil {
		return nil, err
	}
	return d.LoadSigner("", in, cfg)
}

// loadCAInput reads --ca and --ca-key when given (either may be stdin);
// without them the directory's root is used.
func loadCAInput(c *cli.Context, d *pkidir.Dir) (dirview.CAInput, error) {
	if !c.IsSet("ca") && !c.IsSet("ca-key") {
		return dirview.CAInput{}, nil
	}
	root := d.CA(dirview.RootName)
	certPath, _ := inputPath(c, "ca", root.Cert)
	keyPath, _ := inputPath(c, "ca-key", root.Key)
	certs, err := loadFileAs(c, input.InputCertificates, certPath, pemutil.ParseCertificatesPEM, "run 'mtlsctl ca init' first, or pass --ca")
	if err != nil {
		return dirview.CAInput{}, err
	}
	key, err := loadFileAs(c, input.InputKey, keyPath, pemutil.ParseKeyPEM, "pass the CA key with --ca-key")
	if err != nil {
		return dirview.CAInput{}, err
	}
	return dirview.CAInput{CertFile: stdinLabel(certPath), KeyFile: stdinLabel(keyPath), Certs: certs, Key: key}, nil
}

// loadConfig reads --config, else DIR/ca-config.json.
func loadConfig(c *cli.Context, d *pkidir.Dir) (*cfsslconf.SigningConfig, error) {
	cfgPath, _ := inputPath(c, "config", d.File(dirview.ConfigName))
	return loadFileAs(c, input.InputConfig, cfgPath, cfsslconf.LoadSigningConfig, "run 'mtlsctl ca init' first, or pass --config")
}

// loadFileAs reads path ("-" is stdin) as an input of a known kind, up to
// its cap, and parses it; a missing file gets missingHint.
func loadFileAs[T any](c *cli.Context, kind input.InputKind, path string, parse func(string, []byte) (T, error), missingHint string) (T, error) {
	var zero T
	data, err := input.ReadInputAs(path, c.App.Reader, kind)
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
	var outputs []atomicfile.File
	for _, j := range jobs {
		lf := d.Leaf(j.Name)
		for _, p := range []string{lf.Cert, lf.Key, lf.CSR, lf.Fullchain, lf.P12} {
			outputs = append(outputs, atomicfile.File{Path: p})
		}
	}
	root := d.CA(dirview.RootName)
	inputs := []string{c.String("csr"), c.String("ca"), c.String("ca-key"), c.String("config"), root.Cert, root.Key, d.File(dirview.ConfigName)}
	if name := c.String("issuer"); name != "" {
		inputs = append(inputs, d.CA(name).Cert, d.CA(name).Key)
	}
	return refuseOverwritingInputs(outputs, c.Bool("force"), inputs...)
}

// parseSerialFlag reads one hex serial given on the command line.
func parseSerialFlag(flag, s string) (string, error) {
	parsed, ok, err := crl.ParseSerialLine(s, false, nil)
	if err != nil || !ok || parsed.HasDate || parsed.Reason != 0 {
		return "", usageErrorf("--%s %q is not a hex serial", flag, s)
	}
	return x509text.SerialHex(crl.SerialFromBytes(parsed.Serial)), nil
}

func stdinLabel(path string) string {
	if path == "-" {
		return "stdin"
	}
	return path
}

// withMissingHint adds a hint to a missing input's error.
func withMissingHint(err error, hint string) error {
	var pe *pkix.Error
	if hint != "" && errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe) {
		pe.Hint, pe.HintArgs = hint, nil
	}
	return err
}

// loadOrDefault reads an input given by flag, or def, or falls back to
// the built-in document, which is then also returned as a file to write so
// the user can edit and reuse it. An input named explicitly must exist.
func loadOrDefault[T any](c *cli.Context, flag, def, builtin string, load func(string, []byte) (T, error)) (T, []atomicfile.File, error) {
	var zero T
	path, explicit := inputPath(c, flag, def)
	if explicit || atomicfile.Exists(path) {
		data, err := input.ReadInputAs(path, c.App.Reader, input.InputConfig) // cfssl JSON: a request or a configuration
		if err != nil {
			return zero, nil, err
		}
		if path == "-" {
			path = "stdin"
		}
		v, err := load(path, data)
		return v, nil, err
	}
	v, err := load("built-in "+filepath.Base(def), []byte(builtin))
	if err != nil {
		return zero, nil, err
	}
	return v, []atomicfile.File{{Path: path, Data: []byte(builtin), Mode: atomicfile.ModePublic, Kind: "cfssl JSON (built-in default)"}}, nil
}

// validateUploadFile reads a CA bundle (path, or stdin for "-") and checks
// it against Access's upload rules with the command's --hostname and
// --strict: ca validate and cloudflare upload judge alike.
func validateUploadFile(c *cli.Context, path string) (label string, rep *access.UploadReport, err error) {
	data, err := input.ReadInputAs(path, c.App.Reader, input.InputCertificates)
	if err != nil {
		return "", nil, withMissingHint(err, "give the CA file, or run 'mtlsctl ca init' first")
	}
	label = path
	if path == "-" {
		label = "stdin"
	}
	rep, err = access.ValidateUpload(label, data, access.ValidationOptions{Hostnames: c.StringSlice("hostname"), Strict: c.Bool("strict"), Lint: true})
	spellReport(rep)
	return label, rep, err
}

// checkHostnameFlags refuses an --hostname that is not a hostname Access
// takes (a scheme, a path, a wildcard…), before anything is done.
func checkHostnameFlags(c *cli.Context) error {
	for _, h := range c.StringSlice("hostname") {
		if chk := access.CheckHostname(h); chk.Status == access.Fail {
			return usageErrorf("--hostname %s", chk.Message).hint("%s", chk.Hint)
		}
	}
	return nil
}
