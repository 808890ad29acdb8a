package commands

import (
	"os"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
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
	var expiry time.Duration
	if s := c.String("expiry"); s != "" {
		d, err := parseDuration("expiry", s)
		if err != nil {
			return err
		}
		if d < time.Hour {
			return usageErrorf("--expiry %s is shorter than an hour", s).hint("a CA lives for years: --expiry 1825d")
		}
		expiry = d
	}
	var outputs []pkix.File
	req, reqOut, err := loadOrDefault(c, "csr", d.File(pkidir.CARequestName), pkix.DefaultCARequestJSON, func(name string, data []byte) (*pkix.Request, error) {
		return pkix.LoadRequest(name, data, pkix.CARequest)
	})
	if err != nil {
		return err
	}
	res.Notes = append(res.Notes, req.Notes...)
	cfg, cfgOut, err := loadOrDefault(c, "config", d.File(pkidir.ConfigName), pkix.DefaultConfigJSON, pkix.LoadSigningConfig)
	if err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, cfg.Warnings...)
	if err := applyKeyType(c, req); err != nil {
		return err
	}
	root := d.CA(pkidir.RootName)
	outputs = append(outputs, pkix.File{Path: root.Cert}, pkix.File{Path: root.Key}, pkix.File{Path: root.CSR})
	outputs = append(outputs, reqOut...)
	outputs = append(outputs, cfgOut...)
	force := c.Bool("force")
	if err := refuseOverwritingInputs(outputs, force, c.String("csr"), c.String("config")); err != nil {
		return err
	}
	if !force {
		if err := pkix.CheckFree(outputs); err != nil {
			return err
		}
	}

	// Compute in memory.
	ca, warnings, err := pkix.InitCA(req, expiry, cfg)
	if err != nil {
		return err
	}
	res.Warnings = append(res.Warnings, warnings...)

	// Write everything or nothing, recorded.
	undoDir, err := ensureDir(dir)
	if err != nil {
		return err
	}
	written, repaired, warnings, err := d.InitRoot(c.Context, ca, append(reqOut, cfgOut...), force)
	if err != nil {
		undoDir()
		return err
	}
	res.Notes = append(res.Notes, repaired...)
	res.Warnings = append(res.Warnings, warnings...)
	res.Recorded = d.Inventory()
	sum := pkix.Summarize(ca.Cert)
	res.Cert = &sum
	res.addWritten(written, map[string]*pkix.CertSummary{d.CA(pkidir.RootName).Cert: &sum})
	return u.report(res, c.Bool("json"))
}
