package signer

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Admin is an admin's connection to the signer's own endpoints (list,
// revoke, CRL), over TLS 1.3 with the admin's certificate.
type Admin struct {
	base string
	http *http.Client
}

// NewAdmin connects to the signer at base, trusting signerCA for the
// server, presenting cert.
func NewAdmin(base string, signerCA *x509.CertPool, cert tls.Certificate) (*Admin, error) {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("the signer's address %q is not an https:// URL", base)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: signerCA, Certificates: []tls.Certificate{cert}}}
	return &Admin{base: strings.TrimSuffix(base, "/"), http: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

// answer is cfssl's envelope, which the signer's endpoints use too.
type answer struct {
	Success bool            `json:"success"`
	Result  json.RawMessage `json:"result"`
	Errors  []struct {
		Message string `json:"message"`
	} `json:"errors"`
}

func (a *Admin) do(req *http.Request, into any) error {
	res, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("the signer at %s: %v", a.base, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return err
	}
	var env answer
	if json.Unmarshal(body, &env) != nil {
		return fmt.Errorf("the signer answered %s with something other than its JSON", res.Status)
	}
	if !env.Success || res.StatusCode != http.StatusOK {
		msg := res.Status
		if len(env.Errors) > 0 {
			msg = env.Errors[0].Message
		}
		return fmt.Errorf("the signer refused: %s", x509text.Printable(msg))
	}
	return json.Unmarshal(env.Result, into)
}

// List is the CA's certificates in the signer's database.
func (a *Admin) List(f ListFilter) ([]Listed, error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.CN != "" {
		q.Set("cn", f.CN)
	}
	if f.Expiring > 0 {
		q.Set("expiring", f.Expiring.String())
	}
	req, _ := http.NewRequest(http.MethodGet, a.base+PathList+"?"+q.Encode(), nil)
	var out []Listed
	return out, a.do(req, &out)
}

// Revoke revokes serial (hex) with reason (an RFC 5280 name, or "").
func (a *Admin) Revoke(serial, reason string) (*RevokeAnswer, error) {
	body, _ := json.Marshal(RevokeRequest{Serial: serial, Reason: reason})
	req, _ := http.NewRequest(http.MethodPost, a.base+PathRevoke, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	var out RevokeAnswer
	return &out, a.do(req, &out)
}

// CRL is the CA's CRL signed now by the signer from its database (DER),
// checked: it parses, and the issuing CA signed it.
func (a *Admin) CRL(nextUpdate time.Duration, issuing *x509.Certificate) (*x509.RevocationList, []byte, error) {
	crl, der, err := a.FetchCRL(nextUpdate)
	if err != nil {
		return nil, nil, err
	}
	if err := crl.CheckSignatureFrom(issuing); err != nil {
		return nil, nil, fmt.Errorf("the signer's CRL is not signed by this directory's CA: %v", err)
	}
	return crl, der, nil
}

// FetchCRL is the CRL the signer signs now, parsed but not yet checked:
// the caller checks it against the CA it belongs to (pkidir's
// SignerCRLCA) before anything is written.
func (a *Admin) FetchCRL(nextUpdate time.Duration) (*x509.RevocationList, []byte, error) {
	req, _ := http.NewRequest(http.MethodGet, a.base+PathCRL+"?next_update="+url.QueryEscape(nextUpdate.String()), nil)
	res, err := a.http.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("the signer at %s: %v", a.base, err)
	}
	defer res.Body.Close()
	der, err := io.ReadAll(io.LimitReader(res.Body, 1<<30))
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != http.StatusOK {
		var env answer
		msg := res.Status
		if json.Unmarshal(der, &env) == nil && len(env.Errors) > 0 {
			msg = env.Errors[0].Message
		}
		return nil, nil, fmt.Errorf("the signer refused: %s", x509text.Printable(msg))
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, nil, fmt.Errorf("the signer's CRL cannot be read: %v", err)
	}
	return crl, der, nil
}

// ValidSerialOf is the serial of the one valid certificate with CN cn in
// the signer's database (a revocation by name): none or several is an
// error that says which.
func (a *Admin) ValidSerialOf(cn string) (string, error) {
	// The listing's CN filter is a glob: cn's own '*', '?', '[' match
	// themselves.
	rows, err := a.List(ListFilter{Status: string(inventory.StatusValid), CN: globEscape(cn)})
	if err != nil {
		return "", err
	}
	var exact []Listed
	for _, r := range rows {
		if r.CN == cn {
			exact = append(exact, r)
		}
	}
	switch len(exact) {
	case 0:
		return "", &pkix.Error{Msg: fmt.Sprintf("the signer's database has no valid certificate with CN %q", cn), Hint: "see '%s'", HintArgs: []any{pkix.Cmd(pkix.ActListClients, pkix.OptSigner)}}
	case 1:
		return exact[0].Serial, nil
	}
	return "", &pkix.Error{Msg: fmt.Sprintf("CN %q names %d valid certificates in the signer's database", cn, len(exact)),
		Hint: "revoke one with %s (see '%s')", HintArgs: []any{pkix.OptSerial, pkix.Cmd(pkix.ActListClients, pkix.OptSigner, pkix.OptCN.With(cn))}}
}

func globEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `*`, `\*`, `?`, `\?`, `[`, `\[`).Replace(s)
}

// MissingFromCRL are the serials of revoked certificates (from the
// signer's database) that crl does not list: devices that still get in
// where that CRL is used.
func MissingFromCRL(crl *crl.RevocationList, revoked []Listed) []string {
	listed := map[string]bool{}
	for _, e := range crl.Entries {
		listed[x509text.SerialHex(e.Serial)] = true
	}
	var missing []string
	for _, r := range revoked {
		if r.Status == "revoked" && !listed[r.Serial] {
			missing = append(missing, r.Serial)
		}
	}
	return missing
}
