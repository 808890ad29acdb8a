package commands

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

// p12Flags are shared by client export and client issue --p12. The
// password never comes from a flag value: it would show in ps and in shell
// history.
func p12Flags() []cli.Flag {
	return []cli.Flag{
		passwordFileFlag(),
		&cli.BoolFlag{Name: "no-password", Usage: "write the PKCS#12 file with an empty password"},
		&cli.BoolFlag{Name: "legacy", Usage: "3DES/SHA-1 PKCS#12, for older macOS Keychain and Windows (default: AES-256/PBKDF2)"},
	}
}

// p12Password finds the password: --password-file, else the environment,
// else --no-password's empty one; never a prompt.
func p12Password(c *cli.Context) (string, error) {
	pw, err := p12PasswordRaw(c)
	if err != nil {
		return "", err
	}
	// PKCS#12 passwords are BMPString: invalid UTF-8 or a NUL would be
	// encoded lossily, and the read-back check would pass on the same
	// loss while OpenSSL cannot open the file.
	where := "MTLSCTL_P12_PASSWORD"
	if f := c.String("password-file"); f != "" {
		where = f
	}
	if !utf8.ValidString(pw) {
		return "", &pkix.Error{File: where, Msg: "the password is not valid UTF-8", Hint: "use a text password"}
	}
	if strings.ContainsRune(pw, 0) {
		return "", &pkix.Error{File: where, Msg: "the password contains a NUL byte", Hint: "use a text password"}
	}
	return pw, nil
}

// p12PasswordWarning: a password file others can read is no secret.
func p12PasswordWarning(c *cli.Context) string {
	f := c.String("password-file")
	if f == "" || f == "-" {
		return ""
	}
	if info, err := os.Stat(f); err == nil && info.Mode().Perm()&0o077 != 0 {
		return fmt.Sprintf("%s is readable by others (mode %04o): chmod 600 it", f, info.Mode().Perm())
	}
	return ""
}

func p12PasswordRaw(c *cli.Context) (string, error) {
	env, envSet := os.LookupEnv("MTLSCTL_P12_PASSWORD")
	file := c.String("password-file")
	switch {
	case c.Bool("no-password") && (file != "" || (envSet && env != "")):
		return "", usageErrorf("--no-password, but a password is given too").hint("use one or the other")
	case c.Bool("no-password"):
		return "", nil
	case file != "":
		data, err := input.ReadInputAs(file, c.App.Reader, input.InputSecret)
		if err != nil {
			return "", err
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(data), "\n"), "\r")
		if strings.ContainsAny(pw, "\n\r") {
			// A password is one line; more is another file given by mistake
			// (a key, say), whose whole text would become the password.
			return "", &pkix.Error{File: file, Msg: "holds more than one line; a password file holds the password alone", Hint: "put the password on one line"}
		}
		if pw == "" {
			return "", &pkix.Error{File: file, Msg: "is empty", Hint: "put the password in it, or pass --no-password for an empty one"}
		}
		return pw, nil
	case envSet && env != "":
		return env, nil
	}
	return "", usageErrorf("a PKCS#12 file needs a password").hint("--password-file FILE, or MTLSCTL_P12_PASSWORD, or --no-password")
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
   mtlsctl client export device-7 --p12 --legacy --password-file pw.txt`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.BoolFlag{Name: "p12", Usage: "write PKCS#12 (the only format so far; required, for clarity)"},
			&cli.StringFlag{Name: "out", Usage: "output `FILE` (default DIR/NAME.p12)"},
			forceFlag(),
			jsonFlag(),
		}, p12Flags()...),
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
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	password, err := p12Password(c)
	if err != nil {
		return err
	}
	out, err := d.Export(c.Context, &pkidir.ExportRequest{Name: c.Args().First(), Out: c.String("out"), Password: password,
		Legacy: c.Bool("legacy"), Force: c.Bool("force")})
	if err != nil {
		if errors.Is(err, revocation.ErrAmbiguous) {
			return usageErrorf("%s", err.Error()).hint("%s", pkix.HintOf(err).Spell(spell))
		}
		return err
	}
	res := newResult("client export")
	if w := p12PasswordWarning(c); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	res.Notes = append(res.Notes, out.Repaired...)
	res.Warnings = append(res.Warnings, out.Warnings...)
	sum := x509text.Summarize(out.Cert)
	res.Cert = &sum
	res.addWritten(out.Written, nil)
	return u.report(res, c.Bool("json"))
}
