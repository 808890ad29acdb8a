// Package cloudflare puts a PKI directory's results where Cloudflare uses
// them, through Cloudflare's official Go SDK (cloudflare-go/v6): the CA
// uploaded to Access with its hostnames, the hostnames' certificate
// forwarding, and the revocation Worker's KV data and script.
//
// Every operation reads first, works out the writes that would make the
// account match, and makes only those, in an order that is safe to stop
// at any point: a rerun with nothing changed makes no write, and a
// failure halfway says what was and was not applied.
package cloudflare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/kv"
	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/cloudflare/cloudflare-go/v6/workers"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// DefaultBaseURL is Cloudflare's API root.
const DefaultBaseURL = "https://api.cloudflare.com/client/v4/"

// Config is everything a client needs, given explicitly: nothing is read
// from the environment here.
type Config struct {
	Token     string
	AccountID string
	ZoneID    string
	BaseURL   string // "" for DefaultBaseURL
	// DryRun prints each write (method, path, body) to Log instead of
	// sending it; reads are sent.
	DryRun  bool
	Verbose bool      // one line per request and response on Log, never a header
	Log     io.Writer // dry-run and verbose output (stderr)
	// Retries bounds the retries of a request answered 429 or 5xx;
	// RetryBase is the first backoff (doubled each time) when the answer
	// has no Retry-After; a Retry-After longer than MaxWait is not waited
	// for. Zero values take the defaults below; Retries < 0 means none.
	Retries   int
	RetryBase time.Duration
	MaxWait   time.Duration
	// Timeout bounds each request; 0 for 60 s.
	Timeout time.Duration
}

const (
	defaultRetries   = 4
	defaultRetryBase = time.Second
	defaultMaxWait   = time.Minute
)

// Client talks to one account (or zone) of Cloudflare's API.
type Client struct {
	cfg     Config
	certs   *zero_trust.AccessCertificateService
	kv      *kv.NamespaceService
	scripts *workers.ScriptService
	routes  *workers.RouteService
	// generic is the SDK's untyped client for the one call its typed
	// services lack (see deleteKeys); a struct literal, because
	// NewClient would read credentials from the environment.
	generic *cf.Client
	// maxKeyPages is MaxKeyPages; tests lower it.
	maxKeyPages int
}

// New checks cfg and builds the SDK's services from explicit options only.
// The SDK's NewClient also reads CLOUDFLARE_API_KEY and CLOUDFLARE_EMAIL
// from the environment and sends them on every request, so a Global API
// Key left in a CI environment would travel with the token: it is never
// called.
func New(cfg Config) (*Client, error) {
	if cfg.Token == "" {
		return nil, &pkix.Error{Msg: "no API token", Hint: "set CLOUDFLARE_API_TOKEN or pass %s", HintArgs: []any{pkix.OptTokenFile.With("FILE")}}
	}
	if strings.IndexFunc(cfg.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return nil, &pkix.Error{Msg: "the API token contains white space or control characters", Hint: "a Cloudflare API token is one word: check the file or variable"}
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	if _, err := CheckBaseURL(cfg.BaseURL); err != nil {
		return nil, err
	}
	if cfg.Retries == 0 {
		cfg.Retries = defaultRetries
	}
	if cfg.RetryBase == 0 {
		cfg.RetryBase = defaultRetryBase
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = defaultMaxWait
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	c := &Client{cfg: cfg, maxKeyPages: MaxKeyPages}
	httpClient := &http.Client{
		Timeout: cfg.Timeout,
		// A redirect would carry the request (and, to the same host,
		// the token) somewhere the user did not name: never follow one.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	opts := []option.RequestOption{
		option.WithBaseURL(cfg.BaseURL),
		option.WithAPIToken(cfg.Token),
		option.WithHTTPClient(httpClient),
		// Retries are ours (transport.go): bounded, only where a retry
		// cannot apply a write twice, and reported.
		option.WithMaxRetries(0),
		option.WithMiddleware(c.middleware),
	}
	c.certs = zero_trust.NewAccessCertificateService(opts...)
	c.kv = kv.NewNamespaceService(opts...)
	c.scripts = workers.NewScriptService(opts...)
	c.routes = workers.NewRouteService(opts...)
	c.generic = &cf.Client{Options: opts}
	return c, nil
}

// CheckBaseURL accepts https:// anywhere and plain http:// only on a
// loopback address, where a local fake of the API listens: a token must
// never cross a network in the clear.
func CheckBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, &pkix.Error{Field: "CLOUDFLARE_BASE_URL", Msg: fmt.Sprintf("%q is not an http(s) URL", raw),
			Hint: "unset it for Cloudflare's API, or give a URL such as https://api.example.net/client/v4"}
	}
	if u.User != nil {
		return nil, &pkix.Error{Field: "CLOUDFLARE_BASE_URL", Msg: "the URL has a user name or password in it",
			Hint: "credentials go in CLOUDFLARE_API_TOKEN or %s, never in the URL", HintArgs: []any{pkix.OptTokenFile}}
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return nil, &pkix.Error{Field: "CLOUDFLARE_BASE_URL", Msg: fmt.Sprintf("plain http to %s would send the API token unencrypted", u.Hostname()),
			Hint: "use https://, or http:// only on a loopback address (127.0.0.1, ::1, localhost) for a local fake of the API"}
	}
	return u, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// scope is the certificate API's account or zone: the API has both.
func (c *Client) scope() (account, zone string, err error) {
	switch {
	case c.cfg.AccountID != "" && c.cfg.ZoneID != "":
		return "", "", &pkix.Error{Msg: "both an account ID and a zone ID are set: Access certificates live in one of them",
			Hint: "unset CLOUDFLARE_ZONE_ID (or %s) for account-level certificates, or CLOUDFLARE_ACCOUNT_ID for zone-level ones", HintArgs: []any{pkix.OptZoneID}}
	case c.cfg.AccountID == "" && c.cfg.ZoneID == "":
		return "", "", ErrNoScope
	}
	return c.cfg.AccountID, c.cfg.ZoneID, nil
}

// ErrNoScope: neither an account nor a zone was given.
var ErrNoScope = &pkix.Error{Msg: "no account or zone: set CLOUDFLARE_ACCOUNT_ID (or --account-id), or CLOUDFLARE_ZONE_ID (or --zone-id)",
	Hint: "the account ID is on the dashboard's Overview page of any zone, and in 'npx wrangler whoami'"}

// ErrNoAccount: a call that exists only at account level (Workers KV,
// Workers scripts) has no account ID.
var ErrNoAccount = &pkix.Error{Msg: "no account ID: set CLOUDFLARE_ACCOUNT_ID (or --account-id)",
	Hint: "Workers KV and Workers scripts belong to an account, not a zone"}

// DryRun says whether writes are printed instead of sent.
func (c *Client) DryRun() bool { return c.cfg.DryRun }

func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
