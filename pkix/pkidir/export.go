package pkidir

import (
	"context"
	"crypto/x509"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/revocation"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// ExportRequest asks for a certificate, its key and chain as PKCS#12.
type ExportRequest struct {
	Name     string // file base name, or the CN of a recorded certificate
	Out      string // "" for NAME.p12 in the directory
	Password string
	Legacy   bool
	Force    bool
}

// ExportResult is what an export wrote.
type ExportResult struct {
	Cert     *x509.Certificate
	Written  []atomicfile.Written
	Warnings []string
	Repaired []string
}

// Export writes NAME.p12, read back before it takes its name.
func (d *Dir) Export(ctx context.Context, req *ExportRequest) (*ExportResult, error) {
	name := req.Name
	if _, err := os.Lstat(d.Leaf(name).Cert); err != nil {
		m, err := d.FindName(name, func(r *inventory.Record) bool {
			return r.Kind == inventory.KindClient && r.Status != inventory.StatusSuperseded
		})
		if err != nil {
			return nil, err
		}
		switch len(m) {
		case 0:
			return nil, &pkix.Error{File: d.Leaf(name).Cert, Msg: "no such file, and no recorded certificate has that CN", Hint: "see '%s'", HintArgs: []any{pkix.ActListClients}, Err: fs.ErrNotExist}
		case 1:
			name = m[0].Name
		default:
			return nil, &pkix.Error{Msg: fmt.Sprintf("CN %q matches %d certificates", name, len(m)), Err: revocation.ErrAmbiguous,
				Hint: "give the file base name instead (see '%s')", HintArgs: []any{pkix.ActListClients}}
		}
	}
	// The set is read under the lock: a renewal running meanwhile must not
	// leave a PKCS#12 of the certificate it just superseded.
	st, sess, end, err := d.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	lf := d.Leaf(name)
	certs, err := dirview.ReadCerts(lf.Cert, pkix.Text{})
	if err != nil {
		return nil, err
	}
	cert := certs[0]
	if cert.IsCA {
		return nil, &pkix.Error{File: lf.Cert, Msg: "is a CA certificate; mtlsctl exports client certificates only",
			Hint: "a CA's key stays where it is; export a client certificate"}
	}
	if recs, ferr := d.FindName(name, func(r *inventory.Record) bool { return r.Name == name && r.SHA256 == x509text.FingerprintSHA256(cert) }); ferr == nil && len(recs) > 0 && recs[0].KeyHeld == inventory.KeyOnDevice {
		return nil, &pkix.Error{File: lf.Cert, Msg: "was signed from the device's own request: its key is on the device, never here",
			Hint: "a PKCS#12 file holds the key: make it on the device (openssl pkcs12 -export -inkey KEY -in " + name + ".pem), or send the device " + name + ".pem alone"}
	}
	key, err := dirview.ReadKey(lf.Key, pkix.Words("the key must be next to the certificate as NAME-key.pem"))
	if err != nil {
		return nil, err
	}
	if !pemutil.KeyMatches(cert, key) {
		return nil, &pkix.Error{File: lf.Key, Msg: "this key does not belong to " + lf.Cert}
	}
	res := &ExportResult{Cert: cert, Repaired: sess.Repaired}
	if r, err := d.FindSerial(x509text.SerialHex(cert.SerialNumber)); err == nil && r != nil && r.Status != inventory.StatusValid {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s is %s in the inventory; Access itself does not read CRLs, so it accepts this certificate until revocation is enforced at the edge (a Worker) or by your server with the CRL", lf.Cert, r.Status))
	}
	// The chain: the fullchain's intermediates if there is one, then the root.
	var p12Chain []*x509.Certificate
	if fc, err := dirview.ReadCerts(lf.Fullchain, pkix.Text{}); err == nil && len(fc) > 1 {
		p12Chain = chain.ChainToRoot(fc[1], fc[2:], d.Root())
	}
	if root := d.Root(); p12Chain == nil && root != nil && cert.CheckSignatureFrom(root) == nil {
		p12Chain = []*x509.Certificate{root}
	}
	out := req.Out
	if out == "" {
		out = lf.P12
	}
	// In the directory, --out is a PKCS#12 name, never one of the
	// directory's own files (the inventory, a key, a serials file, the
	// journal) that it would replace or be mistaken for.
	if base, ok := d.Local(out); ok && (!strings.HasSuffix(base, ".p12") || strings.HasPrefix(base, ".")) {
		return nil, &pkix.Error{File: out, Msg: "is a file of the PKI directory that is not a PKCS#12 file; refusing to write one there",
			Hint: "name it NAME.p12, or write it outside the directory"}
	}
	for _, in := range []string{lf.Cert, lf.Key} {
		if dirview.SameFile(in, out) {
			return nil, &pkix.Error{File: out, Msg: "is also an input of this command; refusing to write over it", Hint: "choose another %s", HintArgs: []any{pkix.OptOut}}
		}
	}
	if err := d.checkFree(out, "", req.Force); err != nil {
		return nil, err
	}
	data, err := pemutil.EncodeP12(key, cert, p12Chain, req.Password, req.Legacy)
	if err != nil {
		return nil, err
	}
	file := atomicfile.File{Path: out, Data: data, Mode: atomicfile.ModeSecret, Kind: "PKCS#12 (key + certificate + chain)"}
	written, errs, err := sess.Commit(dirtx.Change{Op: "client export", Sets: []dirtx.Set{{Staged: st.Files([]atomicfile.File{file}, req.Force), Force: req.Force}}})
	if err == nil {
		err = errs[0]
	}
	if err != nil {
		return nil, err
	}
	res.Written = written[0]
	return res, nil
}
