package commands

import (
	"fmt"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
	"github.com/urfave/cli/v2"
)

func clientSignCommand(u *ui) *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "sign PKCS#10 requests made on the devices: their keys never come here",
		ArgsUsage: "FILE... (PEM or DER; - for stdin)",
		Description: `Signs each device's own certificate request (made with 'mtlsctl client
request' on the device, 'openssl req -new', or any PKCS#10 tool) with the
"client" profile, on all cores. No key is made or written here: the
inventory records the key as held on the device.

Each request is checked first, and the whole batch refused before any
signing if one is bad: its signature must verify, its key must be RSA of
2048 bits or more, ECDSA P-256/384/521 (Ed25519 with a warning), not a
key already certified here (one key, two devices), not a CA's key, and
it must have a CN (or give --cn).

From the request only the subject and the public key are taken; every
extension comes from the profile: a request asking for CA:TRUE,
keyCertSign, serverAuth or names gets a clientAuth leaf with CA:FALSE and
no subjectAltName, unless the profile's CSRWhitelist (cfssl's field) allows names.

Files are named from the CN as 'client issue' names a batch (device-7.pem
and device-7.csr; under an intermediate also device-7-fullchain.pem); a
request already at DIR/NAME.csr stays where it is.

EXAMPLES:
   mtlsctl client sign device-7.csr device-8.csr
   openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout k.pem -subj /CN=device-8 -out device-8.csr
   mtlsctl client sign --issuer intermediate requests/*.csr
   ssh device-9 cat device-9.csr | mtlsctl client sign -`,
		Flags: append([]cli.Flag{
			dirFlag(),
			&cli.StringFlag{Name: "cn", Usage: "the certificate's common `NAME`, overriding the request's (one request only)"},
			&cli.StringFlag{Name: "name", Usage: "output base `NAME` (one request only; default from the CN)"},
			configFlag(),
			signingCAFlag(),
			signingCAKeyFlag(),
			issuerFlag(),
			clientProfileFlag(),
			forceFlag(),
			allowDNSpecialsFlag(),
			jsonFlag(),
		}, lifetimeFlags()...),
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return usageErrorf("client sign needs the request files").hint("mtlsctl client sign device-7.csr (the device makes it with 'client request --cn device-7')")
			}
			return runClientSign(u, c)
		},
	}
}

func runClientSign(u *ui, c *cli.Context) error {
	d, err := openRepaired(u, c)
	if err != nil {
		return err
	}
	files := c.Args().Slice()
	if (c.IsSet("cn") || c.IsSet("name")) && len(files) > 1 {
		return usageErrorf("--cn and --name name one certificate, but %d requests were given", len(files)).hint("leave them out: each certificate is named from its request's CN")
	}
	stdin := 0
	for _, f := range files {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("- (stdin) given %d times", stdin).hint("stdin holds one request")
	}
	// Every request is read and checked before anything is signed.
	jobs, err := planRequests(c, files)
	if err != nil {
		return err
	}
	res := newResult("client sign")
	req, err := clientBatch(c, d, res, jobs)
	if err != nil {
		return err
	}
	return issueBatch(u, c, d, res, req)
}

// planRequests reads every request, checks them on all cores, and names
// their files: from the CN (or --cn), or --name.
func planRequests(c *cli.Context, files []string) ([]pkidir.Job, error) {
	labels := make([]string, len(files))
	data := make([][]byte, len(files))
	for i, f := range files {
		var err error
		if data[i], err = input.ReadInputAs(f, c.App.Reader, input.InputRequest); err != nil {
			return nil, withMissingHint(err, "give the request files the devices made")
		}
		labels[i] = stdinLabel(f)
	}
	reqs, err := ca.ParseDeviceRequests(labels, data)
	if err != nil {
		return nil, err
	}
	var jobs []pkidir.Job
	byName := map[string]string{}
	for i, r := range reqs {
		label := labels[i]
		cn, setCN := r.CSR.Subject.CommonName, false
		if c.IsSet("cn") { // --cn '' is refused, not ignored
			v := c.String("cn")
			if err := checkCNFlag(v); err != nil {
				return nil, err
			}
			cn, setCN = v, true
		}
		if cn == "" {
			return nil, &pkix.Error{File: label, Msg: "the request has no CN", Hint: "make it with a CN (openssl req -subj /CN=device-7), or give --cn"}
		}
		if cerr := cfsslconf.CheckCN(cn); cerr != nil {
			return nil, &pkix.Error{File: label, Msg: "the request's " + strings.TrimPrefix(cerr.Msg, "the "), Hint: cerr.Hint, HintArgs: cerr.HintArgs}
		}
		name := ca.SafeName(cn)
		if c.IsSet("name") {
			if err := checkBaseName(c.String("name")); err != nil {
				return nil, err
			}
			name = c.String("name")
		}
		if other, ok := byName[name]; ok {
			return nil, &pkix.Error{File: label, Msg: fmt.Sprintf("would be named %s.pem, as %s", name, other), Hint: "two requests for one CN: sign one of them"}
		}
		byName[name] = label
		jobs = append(jobs, pkidir.Job{CN: cn, Name: name, Device: r, SetCN: setCN})
	}
	return jobs, nil
}
