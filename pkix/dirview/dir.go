package dirview

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/dirtx"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// Dir is a PKI directory.
type View struct {
	dirtx.Store
	// cache is the inventory as last read. A long-running signer checks
	// its issuer against it from concurrent requests, hence the mutex.
	cache struct {
		mu    sync.Mutex
		data  []byte
		size  int64
		mtime time.Time
	}
}

// The directory's own files.
const (
	RootName        = "ca"
	ConfigName      = "ca-config.json"
	CARequestName   = "ca-csr.json"
	ClientRequest   = "client-csr.json"
	InterRequest    = "intermediate-csr.json"
	ServeCAName     = "serve-ca"
	DefaultInter    = "intermediate"
	DefaultLeafName = "client"
	WorkerDirName   = "worker" // worker build's output
)

// LeafFiles are one certificate's files: cfssljson -bare's three, the
// fullchain a client presents under an intermediate, and its PKCS#12.
type LeafFiles struct {
	Name                           string
	Cert, Key, CSR, Fullchain, P12 string
}

// Leaf names the files of the certificate called name.
func (d *View) Leaf(name string) LeafFiles {
	return LeafFiles{Name: name, Cert: d.File(name + ".pem"), Key: d.File(name + "-key.pem"), CSR: d.File(name + ".csr"),
		Fullchain: d.File(name + "-fullchain.pem"), P12: d.File(name + ".p12")}
}

// CAFiles are an issuing CA's files: its certificate, key and request,
// the chain Access wants uploaded (intermediates only), and its
// revocations: the serials file and the CRL built from it.
type CAFiles struct {
	Name                                string
	Cert, Key, CSR, Chain, Serials, CRL string
}

// CA names the files of the issuing CA called name: the guide's
// serials.txt and ca.crl for the root, NAME-serials.txt and NAME.crl for
// intermediate NAME, whose upload chain is ca-chain.pem for the default
// name ("intermediate") and NAME-chain.pem otherwise.
func (d *View) CA(name string) CAFiles {
	if name == "" || name == RootName {
		return CAFiles{Name: RootName, Cert: d.File("ca.pem"), Key: d.File("ca-key.pem"), CSR: d.File("ca.csr"),
			Serials: d.File("serials.txt"), CRL: d.File("ca.crl")}
	}
	chain := name + "-chain.pem"
	if name == DefaultInter {
		chain = "ca-chain.pem"
	}
	return CAFiles{Name: name, Cert: d.File(name + ".pem"), Key: d.File(name + "-key.pem"), CSR: d.File(name + ".csr"),
		Chain: d.File(chain), Serials: d.File(name + "-serials.txt"), CRL: d.File(name + ".crl")}
}

// reserved are base names the directory's own files take (NAME.pem of
// these would be one of them, or be mistaken for one).
var reserved = map[string]string{
	"ca":        "the root CA's files",
	"ca-chain":  "the default intermediate's upload chain",
	"serve-ca":  "serve's throwaway server CA",
	"serials":   "the root's serials file",
	"inventory": "the inventory",
	"ca-config": "the signing configuration",
	"ca-csr":    "the root's request",
}

// reservedSuffixes are the forms other files' names take: NAME-key.pem is
// the key of NAME, never a certificate of its own.
var reservedSuffixes = []string{"-key", "-fullchain", "-chain", "-serials"}

// CheckCertName refuses a base name for a new certificate's files that the
// directory reserves: its own files, an issuing CA's, or the form of
// another certificate's key or chain. kind is for the message ("a client
// certificate", "an intermediate").
func (d *View) CheckCertName(name string) error {
	if err := d.CheckReserved(name); err != nil {
		return err
	}
	// An issuing CA's name: its certificate is a CA, or it has revocations.
	ca := d.CA(name)
	for _, p := range []string{ca.Serials, ca.CRL} {
		if _, err := os.Lstat(p); err == nil {
			return &pkix.Error{File: d.File(name + ".pem"), Msg: "the name " + name + " belongs to an issuing CA (" + filepath.Base(p) + " exists)",
				Hint: "choose another name with %s", HintArgs: []any{pkix.OptName}}
		}
	}
	if data, err := os.ReadFile(ca.Cert); err == nil {
		if c, err := pemutil.ParseCertificatePEM(ca.Cert, data); err == nil && c.IsCA {
			return &pkix.Error{File: ca.Cert, Msg: "the name " + name + " belongs to a CA certificate",
				Hint: "choose another name with %s", HintArgs: []any{pkix.OptName}}
		}
	}
	return nil
}

// CheckReserved refuses the directory's own names and the forms of other
// certificates' files, in any case (a case-insensitive file system would
// make CA.pem the root's).
func (d *View) CheckReserved(name string) error {
	if why, ok := reserved[strings.ToLower(name)]; ok {
		return &pkix.Error{File: d.File(name + ".pem"), Msg: "the name " + name + " is reserved for " + why,
			Hint: "choose another name with %s", HintArgs: []any{pkix.OptName}}
	}
	for _, suf := range reservedSuffixes {
		if strings.HasSuffix(strings.ToLower(name), suf) {
			return &pkix.Error{File: d.File(name + ".pem"), Msg: "a name ending in " + suf + " would look like a file of " + strings.TrimSuffix(name, name[len(name)-len(suf):]),
				Hint: "choose another name with %s", HintArgs: []any{pkix.OptName}}
		}
	}
	return nil
}

// UploadBundle is what Access gets for this directory: the default
// intermediate's chain (ca-chain.pem) once there is one, else the root.
func (d *View) UploadBundle() string {
	if chain := d.CA(DefaultInter).Chain; FileExists(chain) {
		return chain
	}
	return d.CA(RootName).Cert
}

func FileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
