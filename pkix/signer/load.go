package signer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"slices"

	cfsigner "github.com/cloudflare/cfssl/signer"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// ServeOptions are the choices of 'signer serve'.
type ServeOptions struct {
	Open              []string // profiles runners may name (default: client)
	Issuer            string   // the CA of d that signs: "" for the root, or an intermediate's name
	HMACKey           string   // hex, from LoadHMACKey
	PrevHMACKey       string   // during a rotation: the key being retired, or ""
	AllowCfsslClients bool
}

// LoadServer assembles the signer from the directories: the issuing CA
// of d (its key signs: the root, or o.Issuer, an intermediate, so the
// root key need not be on the signing host at all), the signer CA of DIR/signer (the only issuer of
// client certificates it accepts, and its CRL), the server certificate,
// the database, and checks the configuration before anything listens.
func LoadServer(d, sd *pkidir.Dir, store *Store, o ServeOptions) (*Server, *tls.Config, error) {
	cfgPath := d.File(dirview.ConfigName)
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, nil, &pkix.Error{File: cfgPath, Msg: "cannot be read", Hint: "the signer signs with the directory's CA and its configuration: run '%s' there", HintArgs: []any{pkix.ActMakeCA}, Err: err}
	}
	cfg, err := cfsslconf.LoadSigningConfig(cfgPath, data)
	if err != nil {
		return nil, nil, err
	}
	issuing, err := d.LoadSigner(o.Issuer, dirview.CAInput{}, cfg)
	if err != nil {
		return nil, nil, err
	}
	// A service holding keys refuses to run with one others can read.
	for _, key := range []string{d.CA(issuing.Name).Key, sd.CA(dirview.RootName).Key, sd.Leaf(ServerName).Key} {
		if info, err := os.Stat(key); err == nil && info.Mode().Perm()&0o077 != 0 {
			return nil, nil, &pkix.Error{File: key, Msg: fmt.Sprintf("is readable by others (mode %04o): the signer will not serve with it", info.Mode().Perm()), Hint: "chmod 600 " + key}
		}
	}
	signerCA := sd.CA(dirview.RootName)
	caPEM, err := os.ReadFile(signerCA.Cert)
	if err != nil {
		return nil, nil, &pkix.Error{File: signerCA.Cert, Msg: "the signer CA is missing", Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeSigner}, Err: err}
	}
	ca, err := pemutil.ParseCertificatePEM(signerCA.Cert, caPEM)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	pair, err := tls.LoadX509KeyPair(sd.Leaf(ServerName).Cert, sd.Leaf(ServerName).Key)
	if err != nil {
		return nil, nil, &pkix.Error{File: sd.Leaf(ServerName).Cert, Msg: "the signer's server certificate: " + err.Error(), Hint: "run '%s' first", HintArgs: []any{pkix.ActMakeSigner}}
	}
	if leaf, err := x509.ParseCertificate(pair.Certificate[0]); err != nil || !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		return nil, nil, &pkix.Error{File: sd.Leaf(ServerName).Cert, Msg: "is not a TLS server certificate (no serverAuth)", Hint: "restore it from its .bak, or move it away and run '%s' to make a new one", HintArgs: []any{pkix.ActMakeSigner}}
	}
	if err := CheckSchema(context.Background(), store.DB()); err != nil {
		return nil, nil, err
	}
	open := o.Open
	if len(open) == 0 {
		open = []string{cfsslconf.ClientProfile}
	}
	subject, err := hostSubject(d)
	if err != nil {
		return nil, nil, err
	}
	crl := &CRLCheck{Path: signerCA.CRL, CA: ca, Serials: signerCA.Serials}
	srv := &Server{
		Service: &Service{Store: store, Issuer: issuing.Issuer, AllowCfsslClients: o.AllowCfsslClients, Subject: subject,
			Current: func() error { return d.StillCurrent(issuing) }},
		Open:        open,
		HMACKey:     o.HMACKey,
		PrevHMACKey: o.PrevHMACKey,
		ClientCAs:   pool,
		Revoked:     crl.Check,
		LocalCRL:    d.CA(issuing.Name).CRL, // the issuing CA's own CRL, whose number the signer's stay above
	}
	if err := srv.Prepare(); err != nil {
		return nil, nil, err
	}
	return srv, srv.TLSConfig(pair), nil
}

// hostSubject is the subject runners' certificates get beside their CN:
// the signing host's client request (DIR/client-csr.json), or mtlsctl's
// built-in one, as 'client issue' on the host would give.
func hostSubject(d *pkidir.Dir) (*cfsigner.Subject, error) {
	req := cfsslconf.DefaultRequest("", cfsslconf.ClientRequest)
	path := d.File(dirview.ClientRequest)
	if data, err := os.ReadFile(path); err == nil {
		if req, err = cfsslconf.LoadRequest(path, data, cfsslconf.ClientRequest); err != nil {
			return nil, err
		}
	}
	return &cfsigner.Subject{Names: req.CR.Names, SerialNumber: req.CR.SerialNumber}, nil
}
