package dirview

import (
	"crypto/x509"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// PresentedFiles are the files a client sends to a server that trusts
// trusted (the CA uploaded to Access, or given to serve as --ca): the
// certificate file and its key. A certificate signed by a trusted CA goes
// alone. One issued under an intermediate the server does not hold must
// bring its chain (NAME-fullchain.pem): a leaf alone gets 403 "unable to
// get local issuer certificate". When the certificate cannot be read, or
// has no fullchain beside it, its own file is named.
func (d *View) PresentedFiles(name string, trusted []*x509.Certificate) (cert, key string) {
	leaf := d.Leaf(name)
	data, err := os.ReadFile(leaf.Cert)
	if err != nil {
		return leaf.Cert, leaf.Key
	}
	certs, err := pemutil.ParseCertificatesPEM(leaf.Cert, data)
	if err != nil || len(certs) == 0 {
		return leaf.Cert, leaf.Key
	}
	for _, ca := range trusted {
		if certs[0].CheckSignatureFrom(ca) == nil {
			return leaf.Cert, leaf.Key
		}
	}
	if _, err := os.Stat(leaf.Fullchain); err == nil {
		return leaf.Fullchain, leaf.Key
	}
	return leaf.Cert, leaf.Key
}
