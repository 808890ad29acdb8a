package signer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cloudflare/cfssl/config"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// The signer's own PKI lives in DIR/signer, an mtlsctl directory of its
// own: its root is the signer CA, which issues the signer's server
// certificate and the runners' and admins' client certificates (each
// with its grant), records them in its own inventory, and revokes a
// stolen one on its own CRL (DIR/signer/ca.crl), which the signer reads
// on every connection. It never shares a key or a trust anchor with the
// issuing CA in DIR.
const SubDir = "signer"

// Files of the signer's directory beyond an mtlsctl directory's own.
const (
	ServerName  = "server"   // server.pem, server-key.pem
	HMACKeyName = "hmac.key" // cfssl's auth key, hex, 0600
)

// Profiles of the signer CA.
const (
	ProfileRunner = "client" // mtlsctl's configurations always have one
	ProfileAdmin  = "admin"
	ProfileServer = "server"
)

// ConfigJSON is the signer CA's signing configuration: client
// certificates for runners and admins that may carry the grant extension
// (cfssl adds a requested extension only when the profile lists it), and
// the server's certificate.
var ConfigJSON = fmt.Sprintf(`{
  "signing": {
    "default": {"expiry": "8760h", "usages": ["digital signature", "client auth"]},
    "profiles": {
      "client": {"expiry": "8760h", "usages": ["digital signature", "client auth"], "allowed_extensions": [%[1]q]},
      "admin":  {"expiry": "8760h", "usages": ["digital signature", "client auth"], "allowed_extensions": [%[1]q]},
      "server": {"expiry": "8760h", "usages": ["digital signature", "server auth"]}
    }
  }
}
`, OIDGrant.String())

// CARequestJSON is the signer CA's request.
const CARequestJSON = `{
  "CN": "mtlsctl signer CA",
  "key": {"algo": "ecdsa", "size": 256},
  "names": [{"O": "mtlsctl signer"}],
  "ca": {"expiry": "87600h"}
}
`

// OpenDir is the signer's directory of the issuing directory d.
func OpenDir(d *pkidir.Dir) (*pkidir.Dir, error) {
	return pkidir.Open(filepath.Join(d.Path(), SubDir))
}

// Config is the signer CA's signing configuration, as written.
func Config(sd *pkidir.Dir) (*cfsslconf.SigningConfig, error) {
	path := sd.File(dirview.ConfigName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &pkix.Error{File: path, Msg: "cannot be read", Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeSigner}, Err: err}
	}
	return cfsslconf.LoadSigningConfig(path, data)
}

// InitCA makes the signer CA in sd, unless it has one: 'signer init' is
// safe to run again, and never replaces the CA that runners trust.
func InitCA(ctx context.Context, sd *pkidir.Dir) ([]atomicfile.Written, error) {
	if _, err := os.Stat(sd.CA(dirview.RootName).Cert); err == nil {
		return nil, nil
	}
	if err := os.MkdirAll(sd.Path(), 0o700); err != nil {
		return nil, &pkix.Error{File: sd.Path(), Msg: "cannot be made", Err: err}
	}
	req, err := cfsslconf.LoadRequest("signer ca-csr.json", []byte(CARequestJSON), cfsslconf.CARequest)
	if err != nil {
		return nil, err
	}
	cfg, err := cfsslconf.LoadSigningConfig("signer ca-config.json", []byte(ConfigJSON))
	if err != nil {
		return nil, err
	}
	ca, _, err := ca.InitCA(req, 0, cfg)
	if err != nil {
		return nil, err
	}
	extra := []atomicfile.File{
		{Path: sd.File(dirview.ConfigName), Data: []byte(ConfigJSON), Mode: atomicfile.ModePublic, Kind: "signer CA's signing configuration"},
		{Path: sd.File(dirview.CARequestName), Data: []byte(CARequestJSON), Mode: atomicfile.ModePublic, Kind: "signer CA's request"},
	}
	written, _, _, err := sd.InitRoot(ctx, ca, extra, false)
	return written, err
}

// IssueServer issues the signer's TLS server certificate for hosts
// (names or addresses runners connect to), unless there is one.
func IssueServer(ctx context.Context, sd *pkidir.Dir, hosts []string) (*pkidir.IssueResult, error) {
	if _, err := os.Stat(sd.Leaf(ServerName).Cert); err == nil {
		return &pkidir.IssueResult{}, nil
	}
	if len(hosts) == 0 {
		return nil, errors.New("the server certificate needs at least one host name or address")
	}
	if err := checkHosts(hosts); err != nil {
		return nil, err
	}
	req := cfsslconf.DefaultRequest("signer", cfsslconf.ClientRequest)
	req.CR.CN = hosts[0]
	req.CR.Hosts = hosts
	req.CR.KeyRequest, _ = cfsslconf.ParseKeyType("ecdsa-256")
	return issueIn(ctx, sd, ServerName, hosts[0], req, ProfileServer, "signer server certificate", false)
}

// IssueGrant issues a runner's or an admin's client certificate under
// the signer CA, with g signed into it, as NAME.pem and NAME-key.pem.
func IssueGrant(ctx context.Context, sd *pkidir.Dir, name, cn string, g Grant, force bool) (*pkidir.IssueResult, error) {
	if name == ServerName {
		return nil, &pkix.Error{Msg: fmt.Sprintf("%s is the signer's own server certificate: choose another name", name)}
	}
	ext, err := g.Extension()
	if err != nil {
		return nil, err
	}
	req := cfsslconf.DefaultRequest(cn, cfsslconf.ClientRequest)
	req.CR.CN = cn
	req.CR.KeyRequest, _ = cfsslconf.ParseKeyType("ecdsa-256")
	req.Extensions = []cfsigner.Extension{{ID: config.OID(ext.Id), Critical: ext.Critical, Value: hex.EncodeToString(ext.Value)}}
	profile := ProfileRunner
	if g.Role == RoleAdmin {
		profile = ProfileAdmin
	}
	return issueIn(ctx, sd, name, cn, req, profile, g.Role+" certificate (signer)", force)
}

func issueIn(ctx context.Context, sd *pkidir.Dir, name, cn string, req *cfsslconf.Request, profile, kind string, force bool) (*pkidir.IssueResult, error) {
	cfg, err := Config(sd)
	if err != nil {
		return nil, err
	}
	s, err := sd.LoadSigner("", dirview.CAInput{}, cfg)
	if err != nil {
		return nil, err
	}
	res, err := sd.Issue(ctx, &pkidir.IssueRequest{Kind: inventory.KindClient, Jobs: []pkidir.Job{{CN: cn, Name: name, Req: req}}, Signer: s,
		Profile: profile, CertKind: kind, Force: force})
	if err != nil {
		return nil, err
	}
	if len(res.Failed) > 0 {
		return nil, errors.New(res.Failed[0].Error)
	}
	return res, nil
}

// WriteHMACKey writes a new random HMAC key (32 bytes, hex: cfssl's
// format) as DIR/signer/hmac.key, mode 0600, unless there is one.
func WriteHMACKey(sd *pkidir.Dir) ([]atomicfile.Written, error) {
	path := sd.File(HMACKeyName)
	if _, err := os.Lstat(path); err == nil {
		return nil, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	return atomicfile.WriteFiles([]atomicfile.File{{Path: path, Data: []byte(hex.EncodeToString(key) + "\n"), Mode: atomicfile.ModeSecret, Kind: "HMAC key (runners need it)"}}, false)
}

// LoadHMACKey reads cfssl's auth key from a file or an environment
// variable (never a flag: it would show in the process list), as hex of
// at least 16 bytes. cfssl itself takes an empty key (an unset variable)
// as a valid key; this refuses it.
func LoadHMACKey(file, envName string) (string, error) {
	var raw, from string
	switch {
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", &pkix.Error{File: file, Msg: "cannot read the HMAC key", Err: err}
		}
		if info, err := os.Stat(file); err == nil && info.Mode().Perm()&0o077 != 0 {
			return "", &pkix.Error{File: file, Msg: fmt.Sprintf("the HMAC key is readable by others (mode %04o)", info.Mode().Perm()), Hint: "chmod 600 " + file}
		}
		raw, from = string(data), file
	case envName != "":
		raw, from = os.Getenv(envName), "$"+envName
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", &pkix.Error{Field: "HMAC key", Msg: "no HMAC key: set MTLSCTL_SIGNER_HMAC_FILE (a file) or MTLSCTL_SIGNER_HMAC (hex)", Hint: "copy the signing host's DIR/signer/hmac.key (signer init wrote it there; never run it here) and set MTLSCTL_SIGNER_HMAC_FILE to the copy"}
	}
	key, err := hex.DecodeString(raw)
	if err != nil || len(key) < 16 {
		return "", &pkix.Error{Field: from, Msg: "the HMAC key must be hex of at least 16 bytes", Hint: "use the key signer init wrote on the signing host (its DIR/signer/hmac.key)"}
	}
	return raw, nil
}

// CheckGrantProfiles refuses a runner grant naming a profile the signer
// could never open to it: missing from the issuing directory's
// ca-config.json, a CA profile, or one without client auth.
func CheckGrantProfiles(d *pkidir.Dir, g Grant) error {
	if g.Role != RoleRunner {
		return nil
	}
	path := d.File(dirview.ConfigName)
	data, err := os.ReadFile(path)
	if err != nil {
		return &pkix.Error{File: path, Msg: "cannot be read: the grant's profiles are checked against it", Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeCA}, Err: err}
	}
	cfg, err := cfsslconf.LoadSigningConfig(path, data)
	if err != nil {
		return err
	}
	if err := CheckProfiles(cfg, g.Profiles); err != nil {
		return &pkix.Error{Field: pkix.Textf("%s", pkix.OptProfile).String(), Msg: err.Error()}
	}
	return nil
}

// CheckInit refuses, before anything is written, what 'signer init' could
// only fail on half way: a first runner named as the server certificate,
// and host names a server certificate cannot carry.
func CheckInit(runner string, hosts []string) error {
	if runner == ServerName {
		return &pkix.Error{Field: pkix.Textf("%s", pkix.OptRunner).String(), Msg: fmt.Sprintf("%s is the signer's own server certificate: choose another name", runner)}
	}
	return checkHosts(hosts)
}

func checkHosts(hosts []string) error {
	for _, h := range hosts {
		if err := access.CheckServerHost(h); err != nil {
			err.Field = pkix.Textf("%s", pkix.OptHost).String()
			return err
		}
	}
	return nil
}
