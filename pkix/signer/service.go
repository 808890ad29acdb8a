package signer

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix/ca"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Runner is who asked: the client certificate of the connection,
// verified against the signer CA, and its grant.
type Runner struct {
	Cert  *x509.Certificate
	Grant *Grant
}

// ID names the runner in each row it asked for (certdb's metadata).
func (r Runner) ID() string {
	return fmt.Sprintf("CN=%s serial=%s", r.Cert.Subject.CommonName, x509text.SerialHex(r.Cert.SerialNumber))
}

// Service signs runners' requests with the CA key and records each
// certificate before it is handed out.
type Service struct {
	Store  *Store
	Issuer *ca.Issuer
	// Label is cfssl's CA label written in each row (ca_label).
	Label string
	// Open are the profiles runners may name (signer serve's
	// --open-profile); nil: only mtlsctl's client profile. cfssl's
	// authsign handler falls back to its default profile for one it does
	// not hold, so the profile actually asked for is checked here.
	Open []string
	// Subject is the subject every certificate gets, but for its CN (the
	// signing host's client request: DIR/client-csr.json, or the built-in
	// one); nil: the CN alone. A runner chooses the CN, never the rest.
	Subject *cfsigner.Subject
	// AllowCfsslClients accepts requests without a time and a nonce
	// (stock cfssl clients): such a request, once captured, can be
	// replayed for ever, as on cfssl's own server.
	AllowCfsslClients bool
	// Current, if set, is asked before each signing whether Issuer may
	// still sign: a signer runs for months, and its CA may be revoked or
	// re-keyed in the directory meanwhile (pkidir's StillCurrent).
	Current func() error
}

// RequestError is a request the signer refuses; nothing was signed.
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

func refuse(format string, args ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, args...)}
}

// CheckProfiles refuses, before the signer starts, a profile open to
// runners (the only ones the signer's cfssl policy holds) that makes CA
// certificates or lacks clientAuth: cfssl's authsign lets the client
// choose the profile.
func CheckProfiles(cfg *cfsslconf.SigningConfig, open []string) error {
	if len(open) == 0 {
		return fmt.Errorf("no profile is open to runners")
	}
	for _, name := range open {
		p, err := cfg.Profile(name)
		if err != nil {
			return err
		}
		if p.CAConstraint.IsCA {
			return fmt.Errorf("profile %q makes CA certificates: it cannot be open to runners", name)
		}
		if !cfg.ProfileHasUsage(name, "client auth") {
			return fmt.Errorf("profile %q lacks \"client auth\": it cannot be open to runners", name)
		}
	}
	return nil
}

// Sign checks a runner's request (its freshness, its grant, what it asks
// for), signs it, and records it with its nonce and the runner in one
// transaction. The certificate is returned only once it is recorded.
func (s *Service) Sign(ctx context.Context, who Runner, fresh Freshness, req cfsigner.SignRequest) ([]byte, error) {
	now := time.Now
	if who.Grant == nil || who.Grant.Role != RoleRunner {
		return nil, refuse("this client certificate is not a runner's")
	}
	switch {
	case fresh.Stamped:
		if err := fresh.Check(now()); err != nil {
			return nil, refuse("%v", err)
		}
	case !s.AllowCfsslClients:
		return nil, refuse("the request carries no %s and %s (a stock cfssl client?): refused, since it could be replayed; use mtlsctl as the runner, or run the signer with --allow-cfssl-clients", MetaTime, MetaNonce)
	}
	// What cfssl's API lets a client choose beyond the profile and the
	// subject is the signer's to decide.
	switch {
	case req.Serial != nil:
		return nil, refuse("the request names a serial number: the signer chooses serials")
	case req.Label != "" && req.Label != s.Label:
		return nil, refuse("the request names CA label %q: this signer has one CA", req.Label)
	case len(req.Extensions) > 0:
		return nil, refuse("the request asks for extensions: the profile decides them")
	case !req.NotBefore.IsZero() || !req.NotAfter.IsZero():
		return nil, refuse("the request sets the validity: the profile decides it")
	}
	for _, h := range req.Hosts {
		if strings.TrimSpace(h) != "" {
			return nil, refuse("the request asks for host %q: client certificates carry no hosts here", h)
		}
	}
	if req.Subject != nil && (len(req.Subject.Names) > 0 || req.Subject.SerialNumber != "") {
		return nil, refuse("the request's subject overrides more than the CN: the signing host decides the other subject fields")
	}
	profile := req.Profile
	if profile == "" {
		profile = cfsslconf.ClientProfile
	}
	open := s.Open
	if open == nil {
		open = []string{cfsslconf.ClientProfile}
	}
	if !slices.Contains(open, profile) {
		return nil, refuse("profile %q is not open to runners on this signer (open: %s)", profile, strings.Join(open, ", "))
	}
	if err := CheckProfiles(s.Issuer.Config, []string{profile}); err != nil {
		return nil, refuse("%v", err)
	}
	dr, err := ca.ParseDeviceRequestForSigning("certificate_request", []byte(req.Request))
	if err != nil {
		return nil, refuse("%v", err)
	}
	cn := dr.CSR.Subject.CommonName
	if req.Subject != nil && req.Subject.CN != "" {
		cn = req.Subject.CN
	}
	if cn == "" {
		return nil, refuse("the request has no CN")
	}
	if cerr := cfsslconf.CheckCN(cn); cerr != nil {
		return nil, refuse("%s", cerr.Msg)
	}
	// A runner never gets DN metacharacters in a CN: its grant is
	// matched on the CN, and a relying party's DN rule would read
	// "ci-x,O=system:masters" as an O.
	if cerr := cfsslconf.CheckCNSpecials(cn); cerr != nil {
		return nil, refuse("%s", cerr.Msg)
	}
	if err := who.Grant.Allows(profile, cn); err != nil {
		return nil, refuse("%v", err)
	}
	subject := &cfsigner.Subject{}
	if s.Subject != nil {
		*subject = *s.Subject
	}
	subject.CN = cn
	// Checked last, right before the key is used: nothing is signed (or
	// recorded) with a CA the directory no longer backs.
	if s.Current != nil {
		if err := s.Current(); err != nil {
			return nil, err
		}
	}
	issued, _, err := s.Issuer.SignRequestAs(dr, subject, profile)
	if err != nil {
		return nil, refuse("%v", err)
	}
	// Recorded, or never handed out: a certificate that is not in the
	// database does not leave this function.
	if err := s.Store.Record(ctx, RowOf(issued.Cert, issued.CertPEM, s.Label, who.ID(), now()), fresh.Nonce); err != nil {
		if errors.Is(err, ErrReplay) {
			return nil, refuse("%v", err)
		}
		return nil, fmt.Errorf("the certificate could not be recorded, so it is not handed out: %w", err)
	}
	return issued.CertPEM, nil
}
