package dirview

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/input"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Signer is an issuing CA ready to sign: its certificate and key, the
// certificates above it (for fullchains and PKCS#12), and the name the
// inventory records as the issuer.
type Signer struct {
	Name   string
	Issuer *ca.Issuer
	Above  []*x509.Certificate
	File   string // where its certificate was read ("" for stdin)
	// under caches UnderIntermediate: it checks a signature, and a batch
	// asks once per certificate.
	under     bool
	underOnce sync.Once
	// checked is the inventory StillCurrent last found this CA good in.
	mu      sync.Mutex
	checked *inventoryStamp
}

// Unchanged checks, under the lock, that the CA certificate is still the
// one the certificates were signed with: a CA replaced meanwhile (ca init
// --force in another job) must not get certificates it never signed
// recorded under its name.
func Unchanged(file string, cert *x509.Certificate) error {
	if file == "" || file == "-" || file == "stdin" {
		return nil
	}
	certs, err := ReadCerts(file, pkix.Text{})
	if err != nil || !certs[0].Equal(cert) {
		return &pkix.Error{File: file, Msg: "changed while this command ran (a new CA?); nothing was recorded or written",
			Hint: "run the command again: it will use the CA now in place"}
	}
	return nil
}

// CAInput is a CA read by the caller (from --ca/--ca-key, maybe stdin);
// zero values mean the directory's own files.
type CAInput struct {
	CertFile, KeyFile string // for messages and the issuer's name
	Certs             []*x509.Certificate
	Key               crypto.Signer
}

// LoadSigner loads the issuing CA: the directory's CA called name (""
// for the root), or in, and checks it may sign: key and certificate
// belong together, it is a CA, and the inventory does not say it was
// revoked.
func (d *View) LoadSigner(name string, in CAInput, cfg *cfsslconf.SigningConfig) (*Signer, error) {
	files := d.CA(name)
	if in.Certs == nil {
		var err error
		if in, err = d.ReadCA(name); err != nil {
			return nil, err
		}
	} else if name == "" {
		name = d.signerName(in.Certs[0])
	}
	if name == "" {
		name = RootName
	}
	files = d.CA(name)
	is, err := ca.NewIssuer(in.CertFile, in.Certs[0], in.KeyFile, in.Key, cfg)
	if err != nil {
		return nil, err
	}
	above := in.Certs[1:]
	// An intermediate's certificates above it are in its chain file.
	if len(above) == 0 && files.Chain != "" {
		if chain, err := ReadCerts(files.Chain, pkix.Text{}); err == nil && len(chain) > 1 && chain[0].Equal(in.Certs[0]) {
			above = chain[1:]
		}
	}
	// An issuer the inventory says was revoked, or that is under a
	// revoked CA at any depth, must not sign anything more. (A root is
	// never revoked by its own CRL: no need to read the inventory, which
	// keeps issuing from the root free of its size.)
	if chain.IsSelfSigned(in.Certs[0]) {
		return &Signer{Name: name, Issuer: is, Above: above, File: in.CertFile}, nil
	}
	if r, err := d.revokedInChain(in.Certs[0], above); err != nil {
		return nil, err
	} else if r != nil {
		return nil, revokedSignerError(in.CertFile, in.Certs[0], r)
	}
	return &Signer{Name: name, Issuer: is, Above: above, File: in.CertFile}, nil
}

// signerName is how the inventory names a CA given by file: the
// directory's CA it is (by its recorded fingerprint, or by being the very
// certificate in DIR/ca.pem or DIR/NAME.pem), else "key:" and its key
// identifier — a CA outside the directory, whose certificates are
// recorded here but can never be revoked into this directory's lists.
func (d *View) signerName(cert *x509.Certificate) string {
	if r, err := d.FindSerial(x509text.SerialHex(cert.SerialNumber)); err == nil && r != nil && r.Kind.IsCA() && r.SHA256 == x509text.FingerprintSHA256(cert) {
		return r.Name
	}
	if own, err := ReadCerts(d.CA(RootName).Cert, pkix.Text{}); err == nil && own[0].Equal(cert) {
		return RootName
	}
	return ExternalIssuer(cert)
}

// ExternalIssuer names a CA outside the directory in the inventory.
func ExternalIssuer(cert *x509.Certificate) string {
	id := cert.SubjectKeyId
	if len(id) == 0 {
		sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
		id = sum[:20]
	}
	return externalPrefix + strings.ToUpper(hex.EncodeToString(id))
}

const externalPrefix = "key:"

// IsExternal reports an issuer recorded as outside the directory.
func IsExternal(issuer string) bool { return strings.HasPrefix(issuer, externalPrefix) }

// CheckCAName: an issuing CA named on the command line is a plain name
// of this directory (never a path into another one, whose lock and
// inventory this command does not hold) whose certificate is a CA.
func (d *View) CheckCAName(name string) error {
	if name == "" || name == RootName {
		return nil
	}
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-") || filepath.Base(name) != name {
		return &pkix.Error{Msg: fmt.Sprintf("%q is not the name of a CA of %s", name, d.Path()), Hint: "give a CA's base name, e.g. intermediate for intermediate.pem"}
	}
	certs, err := ReadCerts(d.CA(name).Cert, pkix.Words("give the name of a CA of this directory (ca, or an intermediate's)"))
	if err != nil {
		return err
	}
	if !certs[0].IsCA {
		return &pkix.Error{File: d.CA(name).Cert, Msg: "is not a CA certificate", Hint: "give the name of a CA of this directory (ca, or an intermediate's)"}
	}
	return nil
}

// ReadCA reads the certificate (with any above it) and key of the
// directory's CA called name.
func (d *View) ReadCA(name string) (CAInput, error) {
	if err := d.CheckCAName(name); err != nil {
		return CAInput{}, err
	}
	ca := d.CA(name)
	certs, err := ReadCerts(ca.Cert, pkix.Textf("run '%s' first, or pass %s", pkix.ActMakeCA, pkix.OptCA))
	if err != nil {
		return CAInput{}, err
	}
	key, err := ReadKey(ca.Key, pkix.Textf("pass the CA key with %s", pkix.OptCAKey))
	if err != nil {
		return CAInput{}, err
	}
	return CAInput{CertFile: ca.Cert, KeyFile: ca.Key, Certs: certs, Key: key}, nil
}

// Root reads the directory's root certificate, if it has one.
func (d *View) Root() *x509.Certificate {
	certs, err := ReadCerts(d.CA(RootName).Cert, pkix.Text{})
	if err != nil {
		return nil
	}
	return certs[0]
}

// ChainToRoot is what a client bundles in PKCS#12: the intermediates
// above its issuer, then the root, so Keychain and browsers can trust it.
func (d *View) ChainToRoot(s *Signer) []*x509.Certificate {
	return chain.ChainToRoot(s.Issuer.Cert, s.Above, d.Root())
}

// UnderIntermediate reports whether the signer is not a root: its
// clients then need a fullchain.
func (s *Signer) UnderIntermediate() bool {
	s.underOnce.Do(func() { s.under = !chain.IsSelfSigned(s.Issuer.Cert) })
	return s.under
}

// Fullchain is what a client presents under an intermediate: the leaf,
// then the intermediates, never the root. Nil under a root.
func (s *Signer) Fullchain(leaf *x509.Certificate) []*x509.Certificate {
	if !s.UnderIntermediate() {
		return nil
	}
	out := []*x509.Certificate{leaf, s.Issuer.Cert}
	for _, a := range s.Above {
		if !chain.IsSelfSigned(a) {
			out = append(out, a)
		}
	}
	return out
}

func ReadCerts(path string, missingHint pkix.Text) ([]*x509.Certificate, error) {
	data, err := readFile(path, missingHint)
	if err != nil {
		return nil, err
	}
	return pemutil.ParseCertificatesPEM(path, data)
}

func ReadKey(path string, missingHint pkix.Text) (crypto.Signer, error) {
	data, err := ReadFileAs(path, input.InputKey, missingHint)
	if err != nil {
		return nil, err
	}
	return pemutil.ParseKeyPEM(path, data)
}

func readFile(path string, missingHint pkix.Text) ([]byte, error) {
	return ReadFileAs(path, input.InputCertificates, missingHint)
}

// ReadFileAs reads a file of a known kind, refusing a device, a directory
// or more than the kind's cap (see pkix.ReadInputAs).
func ReadFileAs(path string, kind input.InputKind, missingHint pkix.Text) ([]byte, error) {
	data, err := input.ReadFileAs(path, kind)
	var pe *pkix.Error
	if errors.Is(err, fs.ErrNotExist) && errors.As(err, &pe) {
		pe.Hint, pe.HintArgs = missingHint.Format, missingHint.Args
	}
	return data, err
}

// Now is the clock; one place, so that every record of a transaction
// carries the same time.
func Now() time.Time { return time.Now().UTC().Truncate(time.Second) }

// SignerCRLCA is the CA of the directory a CRL from the signer is
// checked against and written for: NAME when given (crl build --issuer),
// else the root, else the one current CA of the directory that signed
// it. A signer serve --issuer NAME signs its CRLs with NAME's key, and
// the admin who revoked on the signing host was told to run crl build
// there with no --issuer: the CRL must go to NAME.crl, never over the
// root's ca.crl.
func (d *View) SignerCRLCA(name string, crl *x509.RevocationList) (CAFiles, *x509.Certificate, error) {
	if name != "" {
		if err := d.CheckCAName(name); err != nil {
			return CAFiles{}, nil, err
		}
	}
	try := func(n string) (*x509.Certificate, error) {
		certs, err := ReadCerts(d.CA(n).Cert, pkix.Textf("copy the certificate the signer issues with here as ca.pem, or give %s", pkix.OptCA.With("FILE")))
		if err != nil {
			return nil, err
		}
		return certs[0], crl.CheckSignatureFrom(certs[0])
	}
	if name != "" || !FileExists(d.Inventory()) {
		n := name
		if n == "" {
			n = RootName
		}
		cert, err := try(n)
		if err != nil {
			return CAFiles{}, nil, signerCRLError(d.CA(n).Cert, err, false)
		}
		return d.CA(n), cert, nil
	}
	rootCert, rootErr := try(RootName)
	if rootErr == nil {
		return d.CA(RootName), rootCert, nil
	}
	inv, err := d.ReadInventory()
	if err != nil {
		return CAFiles{}, nil, err
	}
	seen := map[string]bool{RootName: true}
	for _, r := range inv.Records {
		if !r.Kind.IsCA() || r.Status == inventory.StatusSuperseded || seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		if cert, err := try(r.Name); err == nil {
			return d.CA(r.Name), cert, nil
		}
	}
	return CAFiles{}, nil, signerCRLError(d.CA(RootName).Cert, rootErr, true)
}

// signerCRLError: searched says the directory's other CAs were tried too.
func signerCRLError(file string, err error, searched bool) error {
	var pe *pkix.Error
	if errors.As(err, &pe) {
		return err
	}
	msg := "the signer's CRL is not signed by this CA"
	if searched {
		msg += ", nor by another CA of the directory"
	}
	return &pkix.Error{File: file, Msg: fmt.Sprintf("%s (%v)", msg, err),
		Hint: "give the certificate the signer issues with: %s, or %s for the directory's intermediate it runs with", HintArgs: []any{pkix.OptCA.With("FILE"), pkix.OptIssuer.With("NAME")}}
}
