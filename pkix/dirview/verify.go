package dirview

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Unverified is a recorded certificate that no longer verifies against
// its issuer's certificate in the directory: the CA was replaced (ca init
// --force) or the file was swapped.
type Unverified struct {
	Record inventory.Record
	Reason string
}

// Message is the one line check prints.
func (u Unverified) Message() string {
	return fmt.Sprintf("%s: %s", inventory.FormatRecord(&u.Record), u.Reason)
}

// Unverifiable checks every valid client and intermediate of the
// inventory whose certificate file is in the directory: the file must
// hold that certificate, and it must verify against the current
// certificate of the CA that issued it. (A file that is not there was
// moved to its device: nothing to check.)
func (d *View) Unverifiable(inv *inventory.Inventory) []Unverified {
	issuers := map[string]*x509.Certificate{}
	keys, _ := d.RetiredIssuers() // a re-keyed CA's old certificates verify against its retired key
	var out []Unverified
	for _, r := range inv.Records {
		if r.Status != inventory.StatusValid || r.Kind == inventory.KindRoot || IsExternal(r.Issuer) {
			continue
		}
		file := d.Leaf(r.Name).Cert
		if _, err := os.Lstat(file); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		certs, err := ReadCerts(file, pkix.Text{})
		switch {
		case err != nil:
			out = append(out, Unverified{r, filepath.Base(file) + " cannot be read as a certificate: restore it, or re-issue"})
			continue
		case x509text.SerialHex(certs[0].SerialNumber) != r.Serial:
			out = append(out, Unverified{r, fmt.Sprintf("%s holds another certificate (serial %s): restore it, or re-issue", filepath.Base(file), x509text.SerialHex(certs[0].SerialNumber))})
			continue
		}
		// What a retired intermediate key issued still chains to the root;
		// what a retired root issued does not (re-issue it).
		by := keys.Issuer(r.Issuer, r.Serial)
		if strings.HasPrefix(by, RootName+dirtx.RetiredMark) {
			by = r.Issuer
		}
		issuer, ok := issuers[by]
		if !ok {
			if ic, err := ReadCerts(d.CA(by).Cert, pkix.Text{}); err == nil {
				issuer = ic[0]
			}
			issuers[by] = issuer
		}
		caFile := filepath.Base(d.CA(by).Cert)
		switch {
		case issuer == nil:
			out = append(out, Unverified{r, "its issuer's certificate " + caFile + " is missing"})
		case certs[0].CheckSignatureFrom(issuer) != nil:
			out = append(out, Unverified{r, "does not verify against " + caFile + " (was the CA replaced?): re-issue it"})
		}
	}
	return out
}
