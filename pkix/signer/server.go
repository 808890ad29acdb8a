package signer

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"slices"

	"github.com/cloudflare/cfssl/api"
	"github.com/cloudflare/cfssl/api/health"
	"github.com/cloudflare/cfssl/api/info"
	"github.com/cloudflare/cfssl/api/signhandler"
	"github.com/cloudflare/cfssl/auth"
	"github.com/cloudflare/cfssl/certdb"
	"github.com/cloudflare/cfssl/config"
	cferr "github.com/cloudflare/cfssl/errors"
	cfinfo "github.com/cloudflare/cfssl/info"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/dirview"
)

// The endpoints that exist. Every other path (cfssl's newcert, certadd,
// init_ca, gencrl, bundle, scan, its web UI...) is 404: they are never
// registered, so no configuration can open them.
const (
	PathAuthSign = "/api/v1/cfssl/authsign"
	PathInfo     = "/api/v1/cfssl/info"
	PathHealth   = "/api/v1/cfssl/health"
	// Admin endpoints, mtlsctl's own (cfssl's revoke and crl stay 404:
	// they take no client identity and speak decimal serials).
	PathRevoke = "/api/v1/mtlsctl/revoke"
	PathCRL    = "/api/v1/mtlsctl/crl"
	PathList   = "/api/v1/mtlsctl/list"
)

// maxBody bounds a request: a CSR is a few KiB.
const maxBody = 1 << 20

// Server is 'mtlsctl signer serve': cfssl's authsign, info and health
// handlers behind TLS 1.3 with a client certificate from the signer CA on
// every request, and a grant in it for what each may do.
type Server struct {
	Service *Service
	// Open are the profiles runners may name; the cfssl policy the
	// handlers see holds only these, each behind the HMAC key.
	Open []string
	// HMACKey is cfssl's auth key: "env:NAME", "file:PATH" or hex (only
	// from a file or the environment on the command line).
	HMACKey string
	// PrevHMACKey, during a rotation, is the key runners not yet given
	// the new one still use (cfssl's prev_auth_key); "" when none.
	PrevHMACKey string
	// ClientCAs is the signer CA: the only issuer of runner and admin
	// certificates (never the issuing CA).
	ClientCAs *x509.CertPool
	// Revoked says whether a client certificate is on the signer CA's
	// CRL; it is asked on every connection.
	Revoked func(*x509.Certificate) error
	// Log receives what runners are not told (internal failures).
	Log *log.Logger
	// LocalCRL is the directory's own CRL (DIR/ca.crl), if one was ever
	// built: the database's CRL numbers never go below its number, so a
	// switch from local CRLs to the signer's never goes backwards.
	LocalCRL string

	local     *local.Signer
	policy    *config.Signing
	providers []auth.Provider // the HMAC key, and the previous one during a rotation
}

// Prepare checks the configuration and builds the cfssl policy: the
// signer refuses to start rather than serve a profile a runner could
// misuse.
func (s *Server) Prepare() error {
	cfg := s.Service.Issuer.Config
	if err := CheckProfiles(cfg, s.Open); err != nil {
		return err
	}
	s.Service.Open = s.Open
	provider, err := auth.New(s.HMACKey, nil)
	if err != nil {
		return fmt.Errorf("the HMAC key: %v", cfsslconf.CfsslMessage(err))
	}
	var prev auth.Provider
	if s.PrevHMACKey != "" {
		if prev, err = auth.New(s.PrevHMACKey, nil); err != nil {
			return fmt.Errorf("the previous HMAC key: %v", cfsslconf.CfsslMessage(err))
		}
	}
	pol := &config.Signing{Profiles: map[string]*config.SigningProfile{}}
	for _, name := range s.Open {
		p, _ := cfg.Profile(name)
		cp := *p
		cp.Provider, cp.AuthKeyName = provider, "runners"
		cp.PrevProvider = prev
		pol.Profiles[name] = &cp
	}
	// The default (a request naming no profile) is the first open one.
	def := *pol.Profiles[s.Open[0]]
	pol.Default = &def
	ls, err := local.NewSigner(s.Service.Issuer.Key, s.Service.Issuer.Cert, cfsigner.DefaultSigAlgo(s.Service.Issuer.Key), pol)
	if err != nil {
		return fmt.Errorf("setting up the signer: %v", cfsslconf.CfsslMessage(err))
	}
	s.local, s.policy = ls, pol
	s.providers = []auth.Provider{provider}
	if prev != nil {
		s.providers = append(s.providers, prev)
	}
	return nil
}

// TLSConfig is the server's TLS: 1.3 only, a client certificate verified
// against the signer CA required on every connection, and refused if the
// signer CA's CRL lists it.
func (s *Server) TLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    s.ClientCAs,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.VerifiedChains) == 0 || len(cs.VerifiedChains[0]) == 0 {
				return errors.New("no verified client certificate")
			}
			if s.Revoked != nil {
				return s.Revoked(cs.VerifiedChains[0][0])
			}
			return nil
		},
	}
}

// Handler serves the endpoints; anything else is 404.
func (s *Server) Handler() http.Handler {
	infoHandler, _ := info.NewHandler(s.boundTo(context.Background(), Runner{}, Freshness{}))
	routes := map[string]http.Handler{
		PathHealth:   s.withRole("", health.NewHealthCheck()),
		PathInfo:     s.withRole("", infoHandler),
		PathAuthSign: s.withRole(RoleRunner, http.HandlerFunc(s.authSign)),
		PathRevoke:   s.withRole(RoleAdmin, api.HTTPHandler{Handler: api.HandlerFunc(s.revoke), Methods: []string{"POST"}}),
		PathCRL:      s.withRole(RoleAdmin, http.HandlerFunc(s.crl)),
		PathList:     s.withRole(RoleAdmin, api.HTTPHandler{Handler: api.HandlerFunc(s.list), Methods: []string{"GET"}}),
	}
	// The exact paths only, looked up as they came: a ServeMux would
	// answer an unclean path ("//api/...", "/x/../api/...") with a
	// redirect instead of a 404.
	return http.MaxBytesHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, ok := routes[r.URL.Path]
		if !ok || r.URL.RawPath != "" {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}), maxBody)
}

type ctxKey struct{}

// withRole lets a request through only with a client certificate whose
// grant has role (any valid grant when role is ""): 403 otherwise.
func (s *Server) withRole(role string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			forbidden(w, errors.New("a client certificate from the signer CA is required"))
			return
		}
		cert := r.TLS.VerifiedChains[0][0]
		// Revocation is checked on every request, not only at the
		// handshake: a kept-alive connection must not outlive a
		// revocation.
		if s.Revoked != nil {
			if err := s.Revoked(cert); err != nil {
				forbidden(w, err)
				return
			}
		}
		g, err := GrantOf(cert)
		if err == nil && role != "" && g.Role != role {
			err = fmt.Errorf("this endpoint is for %s certificates, and this one is an %s's", role, g.Role)
		}
		if err != nil {
			forbidden(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, Runner{Cert: cert, Grant: g})))
	})
}

func forbidden(w http.ResponseWriter, err error) {
	body, _ := json.Marshal(api.NewErrorResponse(err.Error(), http.StatusForbidden))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	w.Write(body)
}

// authSign reads the time and nonce from the request bytes the HMAC
// covers, then hands the request to cfssl's own authsign handler, whose
// signer is the Service bound to this runner and this request: cfssl
// checks the HMAC before it calls Sign.
func (s *Server) authSign(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		api.HandleError(w, cferr.NewMethodNotAllowed(r.Method))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		api.HandleError(w, cferr.NewBadRequest(err))
		return
	}
	var aReq auth.AuthenticatedRequest
	if err := json.Unmarshal(body, &aReq); err != nil {
		api.HandleError(w, cferr.NewBadRequestString("not an authenticated signing request"))
		return
	}
	// The token first (cfssl's handler checks it again): without the key,
	// nothing of the request is read further.
	if !slices.ContainsFunc(s.providers, func(p auth.Provider) bool { return p.Verify(&aReq) }) {
		api.HandleError(w, cferr.NewBadRequestString("invalid token"))
		return
	}
	fresh, err := ReadFreshness(aReq.Request)
	if err != nil {
		api.HandleError(w, cferr.NewBadRequestString(err.Error()))
		return
	}
	if err := RefuseRunnerChoices(aReq.Request); err != nil {
		api.HandleError(w, &cferr.Error{ErrorCode: codeRefused, Message: err.Error()})
		return
	}
	who := r.Context().Value(ctxKey{}).(Runner)
	h, err := signhandler.NewAuthHandlerFromSigner(s.boundTo(r.Context(), who, fresh))
	if err != nil {
		api.HandleError(w, err)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	h.ServeHTTP(w, r)
}

// boundSigner is cfssl's Signer interface over the Service, for one
// request: cfssl's handlers call Sign after their own checks.
type boundSigner struct {
	s     *Server
	ctx   context.Context
	who   Runner
	fresh Freshness
}

func (s *Server) boundTo(ctx context.Context, who Runner, fresh Freshness) *boundSigner {
	return &boundSigner{s: s, ctx: ctx, who: who, fresh: fresh}
}

func (b *boundSigner) Info(req cfinfo.Req) (*cfinfo.Resp, error)  { return b.s.local.Info(req) }
func (b *boundSigner) Policy() *config.Signing                    { return b.s.policy }
func (b *boundSigner) SetDBAccessor(certdb.Accessor)              {}
func (b *boundSigner) GetDBAccessor() certdb.Accessor             { return nil }
func (b *boundSigner) SetPolicy(*config.Signing)                  {}
func (b *boundSigner) SigAlgo() x509.SignatureAlgorithm           { return b.s.local.SigAlgo() }
func (b *boundSigner) SetReqModifier(func(*http.Request, []byte)) {}

// Sign maps the Service's answers to cfssl's: a refusal is a 400 with
// the reason; a failure to record is a 500, and no certificate.
func (b *boundSigner) Sign(req cfsigner.SignRequest) ([]byte, error) {
	cert, err := b.s.Service.Sign(b.ctx, b.who, b.fresh, req)
	var re *RequestError
	if errors.As(err, &re) {
		return nil, &cferr.Error{ErrorCode: codeRefused, Message: re.Msg}
	}
	// Not a refusal of this request but of every one to come: a plain
	// error (500), so a runner's batch stops at the first. The runner
	// is told why, in one line; the file and the rest go to the log.
	var stale *dirview.StaleSignerError
	if errors.As(err, &stale) {
		if b.s.Log != nil {
			b.s.Log.Printf("%s: %v; restart signer serve with a valid --issuer", b.who.ID(), err)
		}
		return nil, fmt.Errorf("the signer's issuing CA %s %s: nothing was signed; restart signer serve with a valid CA", stale.Name, stale.Why)
	}
	if err != nil {
		// The detail (a database address, a driver's message) stays in
		// the signer's log; the runner learns that nothing was handed out.
		if b.s.Log != nil {
			b.s.Log.Printf("%s: %v", b.who.ID(), err)
		}
		return nil, errors.New("the signer could not record the certificate, so none was handed out: retry later")
	}
	return cert, nil
}

// codeRefused is the cfssl error code of a refused request (cfssl's
// PolicyError + InvalidRequest): a runner tells a refusal of one request
// from a signer that is failing.
const codeRefused = int(cferr.PolicyError) + int(cferr.InvalidRequest)

var _ cfsigner.Signer = (*boundSigner)(nil)
