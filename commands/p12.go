package commands

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/urfave/cli/v2"
)

// p12Flags are shared by client export and client issue --p12. The
// password never comes from a flag value: it would show in ps and in shell
// history.
func p12Flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "password-file", Usage: "read the PKCS#12 password from `FILE` (or set MTLSCTL_P12_PASSWORD)"},
		&cli.BoolFlag{Name: "no-password", Usage: "write the PKCS#12 file with an empty password"},
		&cli.BoolFlag{Name: "legacy", Usage: "3DES/SHA-1 PKCS#12, for older macOS Keychain and Windows (default: AES-256/PBKDF2)"},
	}
}

// p12Password finds the password: --password-file, else the environment,
// else --no-password's empty one; never a prompt.
func p12Password(c *cli.Context) (string, error) {
	env, envSet := os.LookupEnv("MTLSCTL_P12_PASSWORD")
	file := c.String("password-file")
	switch {
	case c.Bool("no-password") && (file != "" || (envSet && env != "")):
		return "", usageErrorf("--no-password, but a password is given too").hint("use one or the other")
	case c.Bool("no-password"):
		return "", nil
	case file != "":
		data, err := pkix.ReadInput(file, c.App.Reader)
		if err != nil {
			return "", err
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if pw == "" {
			return "", &pkix.Error{File: file, Msg: "is empty", Hint: "put the password in it, or pass --no-password for an empty one"}
		}
		return pw, nil
	case envSet && env != "":
		return env, nil
	}
	return "", usageErrorf("a PKCS#12 file needs a password").hint("--password-file FILE, or MTLSCTL_P12_PASSWORD, or --no-password")
}

// p12Chain is the chain bundled with a client certificate: its
// intermediates, then the root, so Keychain and browsers can trust it.
func p12Chain(dir string, issuer *x509.Certificate, above []*x509.Certificate) []*x509.Certificate {
	var root *x509.Certificate
	if data, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil {
		root, _ = pkix.ParseCertificatePEM("ca.pem", data)
	}
	return pkix.ChainToRoot(issuer, above, root)
}

func clientExportCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "export a client certificate, its key and chain as PKCS#12 (.p12)",
		ArgsUsage: "NAME",
		Description: `Writes NAME.p12 (mode 0600) with the key, the certificate and its chain, for
macOS Keychain (security import NAME.p12 -k ~/Library/Keychains/login.keychain-db),
Windows and browsers. NAME is the file base name (NAME.pem, NAME-key.pem)
or the CN of a recorded certificate.

The password comes from --password-file or MTLSCTL_P12_PASSWORD, never from
a flag value; an empty password only with --no-password. The default
encryption is AES-256 with PBKDF2; --legacy writes 3DES/SHA-1, which older
macOS Keychain and Windows need. The file is read back and checked before
the command reports success.

EXAMPLES:
   MTLSCTL_P12_PASSWORD=s3cret mtlsctl client export client --p12
   mtlsctl client export device-7 --p12 --legacy --password-file pw.txt

` + exitCodeHelp,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.BoolFlag{Name: "p12", Usage: "write PKCS#12 (the only format so far; required, for clarity)"},
			&cli.StringFlag{Name: "out", Usage: "output `FILE` (default DIR/NAME.p12)"},
			forceFlag(),
			jsonFlag(),
		}, p12Flags()...),
		OnUsageError: usageErrorHandler,
		Action: func(c *cli.Context) error {
			if c.Args().Len() != 1 {
				return usageErrorf("client export takes one NAME").hint("mtlsctl client export client --p12")
			}
			if !c.Bool("p12") {
				return usageErrorf("say the format: --p12").hint("mtlsctl client export %s --p12", c.Args().First())
			}
			return runClientExport(u, c)
		},
	}
}

func runClientExport(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	password, err := p12Password(c)
	if err != nil {
		return err
	}
	name := c.Args().First()
	if !pkix.Exists(filepath.Join(dir, name+".pem")) {
		inv, err := pkix.ReadInventory(dir)
		if err != nil {
			return err
		}
		switch m := inv.Match(name); len(m) {
		case 0:
			return &pkix.Error{File: filepath.Join(dir, name+".pem"), Msg: "no such file, and no recorded certificate has that CN", Hint: "see 'mtlsctl client list'"}
		case 1:
			name = m[0].Name
		default:
			return usageErrorf("CN %q matches %d certificates", name, len(m)).hint("give the file base name instead (see 'mtlsctl client list')")
		}
	}
	certPath := filepath.Join(dir, name+".pem")
	keyPath := filepath.Join(dir, name+"-key.pem")
	cert, err := loadFile(c, certPath, pkix.ParseCertificatePEM, "")
	if err != nil {
		return err
	}
	key, err := loadFile(c, keyPath, pkix.ParseKeyPEM, "the key must be next to the certificate as NAME-key.pem")
	if err != nil {
		return err
	}
	if !pkix.KeyMatches(cert, key) {
		return &pkix.Error{File: keyPath, Msg: "this key does not belong to " + certPath}
	}
	res := newResult("client export")
	if inv, err := pkix.ReadInventory(dir); err == nil {
		if r, ok := inv.Lookup(pkix.SerialHex(cert.SerialNumber)); ok && r.Status != "valid" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s is %s in the inventory: Access will refuse it once the CRL says so", certPath, r.Status))
		}
	}
	// The chain: the fullchain's intermediates if there is one, then the root.
	var chain []*x509.Certificate
	if data, err := os.ReadFile(filepath.Join(dir, name+"-fullchain.pem")); err == nil {
		if certs, err := pkix.ParseCertificatesPEM(name+"-fullchain.pem", data); err == nil && len(certs) > 1 {
			chain = p12Chain(dir, certs[1], certs[2:])
		}
	}
	if chain == nil {
		if data, err := os.ReadFile(filepath.Join(dir, "ca.pem")); err == nil {
			if root, err := pkix.ParseCertificatePEM("ca.pem", data); err == nil && cert.CheckSignatureFrom(root) == nil {
				chain = []*x509.Certificate{root}
			}
		}
	}
	out, _ := inputPath(c, "out", dir, name+".p12")
	files := []pkix.File{{Path: out, Mode: pkix.ModeSecret, Kind: "PKCS#12 (key + certificate + chain)"}}
	if err := refuseOverwritingInputs(files, c.Bool("force"), certPath, keyPath); err != nil {
		return err
	}
	if !c.Bool("force") {
		if err := pkix.CheckFree(files); err != nil {
			return err
		}
	}
	data, err := pkix.EncodeP12(key, cert, chain, password, c.Bool("legacy"))
	if err != nil {
		return err
	}
	files[0].Data = data
	written, err := pkix.WriteFiles(files, c.Bool("force"))
	if err != nil {
		return err
	}
	sum := pkix.Summarize(cert)
	res.Cert = &sum
	res.addWritten(written, nil)
	return u.report(res, c.Bool("json"))
}
