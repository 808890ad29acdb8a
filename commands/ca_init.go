package commands

import (
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"github.com/urfave/cli/v2"
)

func caInitCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a root CA: ca.pem, ca-key.pem, ca.csr",
		Description: `Creates a self-signed root CA from ca-csr.json and checks ca-config.json, as
"cfssl gencert -initca ca-csr.json | cfssljson -bare ca" does, but:
the signing configuration is validated strictly now (unknown usages, bad
expiries, a missing "client" profile are errors), existing files are never
overwritten, and the key is written 0600 in PKCS#8.

When DIR has no ca-csr.json / ca-config.json, built-in equivalents of the
guide's files are used and written to DIR so they can be edited and reused.

EXAMPLES:
   mtlsctl ca init --dir pki                 # built-in defaults, new directory
   mtlsctl ca init                           # the guide's files in this directory
   mtlsctl ca init --expiry 3650d --json     # 10-year CA, machine-readable output`,
		Flags: []cli.Flag{
			dirFlag(),
			csrFlag("DIR/ca-csr.json"),
			configFlag(),
			&cli.StringFlag{Name: "expiry", Usage: "CA lifetime, e.g. 1825d or 43800h (overrides the request's ca.expiry)"},
			keyTypeFlag("the request's"),
			forceFlag(),
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			return runCAInit(u, c)
		},
	}
}

func runCAInit(u *ui, c *cli.Context) error {
	dir, err := pkiDir(c)
	if err != nil {
		return err
	}
	if err := oneStdin(c, "csr", "config"); err != nil {
		return err
	}
	res := newResult("ca init")
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		return &pkix.Error{File: dir, Msg: "is not a directory", Hint: "--dir names the directory that holds (or will hold) the CA"}
	}
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}

	// Read and validate every input before anything is generated or written.
	req := pkidir.RootRequest{Force: c.Bool("force")}
	if req.Expiry, err = caExpiry(c); err != nil {
		return err
	}
	var reqOut, cfgOut []atomicfile.File
	req.Request, reqOut, err = loadOrDefault(c, "csr", d.File(dirview.CARequestName), cfsslconf.DefaultCARequestJSON, func(name string, data []byte) (*cfsslconf.Request, error) {
		return cfsslconf.LoadRequest(name, data, cfsslconf.CARequest)
	})
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, req.Request.Notes...)
	if req.Config, cfgOut, err = loadOrDefault(c, "config", d.File(dirview.ConfigName), cfsslconf.DefaultConfigJSON, cfsslconf.LoadSigningConfig); err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, req.Config.Warnings...)
	if err := applyKeyType(c, req.Request); err != nil {
		return err
	}
	req.Extra = append(reqOut, cfgOut...)
	if err := refuseOverwritingInputs(d.RootOutputs(req.Extra), req.Force, c.String("csr"), c.String("config")); err != nil {
		return err
	}
	out, err := d.CreateRoot(c.Context, req)
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, out.Notes...)
	res.Warnings = append(res.Warnings, out.Warnings...)
	res.Recorded = d.Inventory()
	sum := x509text.Summarize(out.CA.Cert)
	res.Cert = &sum
	res.addWritten(out.Written, map[string]*x509text.CertSummary{d.CA(dirview.RootName).Cert: &sum})
	return u.report(res, c.Bool("json"))
}

// caExpiry is --expiry: a CA lives for years, never less than an hour.
func caExpiry(c *cli.Context) (time.Duration, error) {
	s := c.String("expiry")
	if s == "" {
		return 0, nil
	}
	d, err := parseDuration("expiry", s)
	if err != nil {
		return 0, err
	}
	if d < time.Hour {
		return 0, usageErrorf("--expiry %s is shorter than an hour", s).hint("a CA lives for years: --expiry 1825d")
	}
	return d, nil
}
