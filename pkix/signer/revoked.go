package signer

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// CRLCheck answers, on every connection, whether a client certificate is
// on the signer CA's CRL (DIR/signer/ca.crl, rebuilt by 'mtlsctl client
// revoke --dir DIR/signer NAME'). The file is read again whenever it
// changes, so a revocation takes effect on the next connection without a
// restart. A CRL that cannot be read, is not signed by the signer CA, or
// is past its next update refuses every connection: the signer cannot
// tell who is revoked.
type CRLCheck struct {
	Path string
	CA   *x509.Certificate
	// Serials is the signer CA's revoked-serials file: when it lists a
	// serial and the CRL is missing, nobody can say who is revoked.
	Serials string

	mu      sync.Mutex
	stamp   string // size and mtime of the file last read
	revoked map[string]bool
	next    time.Time
	err     error
	now     func() time.Time
}

// Check refuses cert if it is revoked, or if the CRL cannot be trusted.
func (c *CRLCheck) Check(cert *x509.Certificate) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, err := os.Stat(c.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// No CRL: fine while the signer CA has revoked nothing; a lost
		// CRL must not let revoked runners back in.
		if data, err := os.ReadFile(c.Serials); err == nil && hasSerial(data) {
			return fmt.Errorf("the signer CA has revoked certificates (%s) but its CRL %s is missing: rebuild it with %s", c.Serials, c.Path, c.rebuild())
		}
		return nil
	case err != nil:
		return fmt.Errorf("the signer CA's CRL %s: %v", c.Path, err)
	}
	if stamp := fmt.Sprint(info.Size(), info.ModTime().UnixNano()); stamp != c.stamp {
		c.stamp = stamp
		c.revoked, c.next, c.err = c.load()
	}
	if c.err != nil {
		return c.err
	}
	now := time.Now()
	if c.now != nil {
		now = c.now()
	}
	if !c.next.IsZero() && now.After(c.next) {
		return fmt.Errorf("the signer CA's CRL %s is past its next update (%s): rebuild it with %s", c.Path, c.next.UTC().Format(time.RFC3339), c.rebuild())
	}
	if c.revoked[x509text.SerialHex(cert.SerialNumber)] {
		return fmt.Errorf("the client certificate %s (serial %s) is revoked on the signer CA's CRL", cert.Subject.CommonName, x509text.SerialHex(cert.SerialNumber))
	}
	return nil
}

// rebuild is the command that makes the signer CA's CRL again, with its
// real paths, so it can be pasted as printed.
func (c *CRLCheck) rebuild() string {
	return pkix.Textf("'%s'", pkix.Cmd(pkix.ActBuildCRL, pkix.OptDir.With(x509text.ShellQuote(filepath.Dir(c.Path))), x509text.ShellQuote(c.Serials))).String()
}

func (c *CRLCheck) load() (map[string]bool, time.Time, error) {
	data, err := os.ReadFile(c.Path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the signer CA's CRL %s: %v", c.Path, err)
	}
	der := data
	if b, _ := pem.Decode(data); b != nil && b.Type == "X509 CRL" {
		der = b.Bytes
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the signer CA's CRL %s cannot be read: %v", c.Path, err)
	}
	if err := crl.CheckSignatureFrom(c.CA); err != nil {
		return nil, time.Time{}, fmt.Errorf("the signer CA's CRL %s is not signed by the signer CA: %v", c.Path, err)
	}
	out := map[string]bool{}
	for _, e := range crl.RevokedCertificateEntries {
		out[x509text.SerialHex(e.SerialNumber)] = true
	}
	return out, crl.NextUpdate, nil
}

// hasSerial: a serials file with at least one line that is not blank or
// a comment.
func hasSerial(data []byte) bool {
	for _, line := range strings.Split(string(data), "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
			return true
		}
	}
	return false
}
