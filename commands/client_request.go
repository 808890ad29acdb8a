package commands

import (
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientRequestCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:  "request",
		Usage: "on the device: make a key and a PKCS#10 request for 'client sign' (no CA needed)",
		Description: `Makes a private key (PKCS#8, 0600) and a certificate request (PEM) where
it runs, so the key never has to leave the device: send NAME.csr to the
CA, which runs 'mtlsctl client sign NAME.csr' and sends back NAME.pem.

The subject is the CN given with --cn, or the request in --csr FILE
(cfssl's JSON, as 'client issue' reads it; --cn overrides its CN). Its
"hosts" are not put in the request: names are the CA profile's to grant.
Needs no CA file. Files are named from the CN (device-7-key.pem,
device-7.csr), or --name; existing files are never overwritten without
--force (which keeps the old ones as .bak).

EXAMPLES:
   mtlsctl client request --cn device-7
   mtlsctl client request --cn device-7 --key-type rsa-2048 --dir /etc/device
   openssl req -verify -noout -in device-7.csr`,
		Flags: []cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "cn", Usage: "the common `NAME` to ask for (overrides --csr's CN)"},
			&cli.StringFlag{Name: "csr", Usage: "the subject from a cfssl JSON request `FILE` (- for stdin)"},
			&cli.StringFlag{Name: "name", Usage: "output base `NAME`: NAME-key.pem, NAME.csr (default from the CN)"},
			keyTypeFlag("the request's; built in, the guide's rsa-4096"),
			forceFlag(),
			jsonFlag(),
		},
		Action: func(c *cli.Context) error {
			return runClientRequest(u, c)
		},
	}
}

func runClientRequest(u *ui, c *cli.Context) error {
	d, err := openDir(c)
	if err != nil {
		return err
	}
	cn := c.String("cn")
	if cn != "" {
		if err := checkCNFlag(cn); err != nil {
			return err
		}
	}
	if c.String("csr") == "" && cn == "" {
		return usageErrorf("client request needs --cn NAME or --csr FILE").hint("mtlsctl client request --cn device-7")
	}
	var req *cfsslconf.Request
	if c.String("csr") != "" {
		if req, err = loadRequestOrBuiltin(c, "", cfsslconf.ClientRequest, cn); err != nil {
			return err
		}
	} else {
		req = cfsslconf.DefaultRequest(cn, cfsslconf.ClientRequest)
	}
	if err := applyKeyType(c, req); err != nil {
		return err
	}
	name := c.String("name")
	if c.IsSet("name") {
		if err := checkBaseName(name); err != nil {
			return err
		}
	}
	if name == "" {
		name = ca.SafeName(req.CR.CN)
	}
	if err := d.CheckCertName(name); err != nil {
		return err
	}
	keyPEM, csrPEM, err := ca.NewDeviceRequest(req)
	if err != nil {
		return err
	}
	lf := d.Leaf(name)
	files := []atomicfile.File{
		{Path: lf.Key, Data: keyPEM, Mode: atomicfile.ModeSecret, Kind: "private key (stays here)"},
		{Path: lf.CSR, Data: csrPEM, Mode: atomicfile.ModePublic, Kind: "PKCS#10 request (send to the CA)"},
	}
	// The key may be the device's only one: never replaced without
	// --force, which keeps the old files as .bak.
	undo, err := pkidir.EnsureDir(d.Path())
	if err != nil {
		return err
	}
	written, err := atomicfile.WriteFiles(files, c.Bool("force"))
	if err != nil {
		undo()
		return err
	}
	res := newResult("client request")
	res.Notes = append(res.Notes, req.Notes...)
	res.Notes = append(res.Notes, "send "+lf.CSR+" to the CA: 'mtlsctl client sign --dir CA-DIR "+name+".csr' there returns "+name+".pem")
	res.addWritten(written, nil)
	return u.report(res, c.Bool("json"))
}
