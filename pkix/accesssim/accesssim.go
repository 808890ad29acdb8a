package accesssim

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/access"
	"github.com/mtlsctl/mtlsctl/pkix/chain"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/pkidir"
)

// Config is what the emulated Access application is given.
type Config struct {
	// Dir is the PKI directory: its retired keys' CRLs are read too, and
	// a CRL older than what it revoked is refused.
	Dir *pkidir.Dir
	// CAPath and CAs are the CA certificates uploaded to Access.
	CAPath string
	CAs    []*x509.Certificate
	// Candidates are CA certificates that may chain to CAs (the
	// directory's intermediates, chain bundles): their CRLs count too.
	Candidates  []*x509.Certificate
	CommonNames []string // the Common Name selector; empty: Valid Certificate
	CRLPaths    []string
	// Forward adds the headers Access forwards to the origin to each answer.
	Forward bool
	// Warn and Info receive what is worth telling while the CRLs are read,
	// at start and on every reload; they may be called concurrently.
	Warn, Info func(string)
	// Answered, when set, is called after each answer (for a log).
	Answered func(r *http.Request, resp Response)
}

// Server is an emulated Access application: an http.Handler that answers
// as Access does.
type Server struct {
	Policy *AccessPolicy
	// Issuing are the CAs whose certificates get in, intermediates
	// included; CRLs are read from CRLPaths, retired keys' ones included,
	// in the same order.
	Issuing  []*x509.Certificate
	CRLs     []*crl.CRLStore
	CRLPaths []string
	forward  bool
	answered func(r *http.Request, resp Response)
}

// New reads the policy and its CRLs; a CRL that does not verify against
// an issuing CA is refused here, and later reloads keep the last good one.
func New(cfg Config) (*Server, error) {
	policy, err := NewAccessPolicy(cfg.CAPath, cfg.CAs, cfg.CommonNames, nil)
	if err != nil {
		return nil, err
	}
	for _, w := range policy.Warnings {
		cfg.Warn(w)
	}
	// An intermediate's CRL verifies against the intermediate, which a
	// root-only upload does not hold.
	now := time.Now()
	issuing := policy.IssuingCAs(cfg.CAs, cfg.Candidates, now)
	s := &Server{Policy: policy, Issuing: issuing, forward: cfg.Forward, answered: cfg.Answered}
	// A retired key's certificates still chain: its CRL is read too.
	s.CRLPaths = append(append([]string{}, cfg.CRLPaths...), cfg.Dir.RetiredCRLsBeside(cfg.CRLPaths, now)...)
	for _, p := range s.CRLPaths {
		store, err := crl.LoadGuardedCRLStore(p, issuing, cfg.Dir.GuardCRL, cfg.Warn, cfg.Info)
		if err != nil {
			return nil, err
		}
		s.CRLs = append(s.CRLs, store)
	}
	policy.CRLs = s.CRLs
	return s, nil
}

// Uncovered are the issuing CAs without a CRL: what they issue gets in
// even when revoked.
func (s *Server) Uncovered() []*x509.Certificate {
	var out []*x509.Certificate
	for _, ca := range s.Issuing {
		covered := false
		for _, crl := range s.CRLs {
			covered = covered || chain.SameCA(crl.Issuer(), ca)
		}
		if !covered {
			out = append(out, ca)
		}
	}
	return out
}

// Response is the JSON body of every answer.
type Response struct {
	Status        int                      `json:"status"`
	Allowed       bool                     `json:"allowed"`
	Reason        string                   `json:"reason,omitempty"`
	TLSClientAuth TLSClientAuth            `json:"tlsClientAuth"`
	Forwarded     *access.ForwardedHeaders `json:"forwardedHeaders,omitempty"`
	Note          string                   `json:"note"`
}

// ServeHTTP answers as Access does: 403 with the reason, or 200 with a
// CF_Authorization cookie, each with the request.cf.tlsClientAuth fields.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var presented = r.TLS.PeerCertificates
	v := s.Policy.Evaluate(presented, time.Now())
	resp := Response{Status: http.StatusForbidden, Allowed: v.Allowed, Reason: v.Reason, TLSClientAuth: v.Auth,
		Note: "mtlsctl serve: a local stand-in for a Cloudflare Access mTLS policy"}
	if s.forward && v.Leaf != nil {
		f := access.Forwarded(v.Leaf)
		resp.Forwarded = &f
	}
	if v.Allowed {
		resp.Status = http.StatusOK
		token := make([]byte, 16)
		rand.Read(token)
		http.SetCookie(w, &http.Cookie{Name: "CF_Authorization", Value: "mtlsctl-local-test-token." + hex.EncodeToString(token),
			Path: "/", HttpOnly: true, Secure: true, SameSite: http.SameSiteLaxMode})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.Status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(resp)
	if s.answered != nil {
		s.answered(r, resp)
	}
}
