// Package cloudflaretest is a local fake of the parts of Cloudflare's API
// v4 that mtlsctl calls, for tests, in the spirit of net/http/httptest: an
// httptest server speaking Cloudflare's envelope (success, errors,
// messages, result, result_info), its status codes (201 on create, 202 on
// a settings update), page and cursor pagination, its authentication
// failure, and injected 429s and 5xxs. Request bodies are checked against
// the field names and types of Cloudflare's published OpenAPI schema (the
// cloudflare/api-schemas repository; see SchemaVersion): an unknown field,
// a missing required one or a wrong type is a 400, as a strict server
// would answer, so a client that drifts from the schema fails its tests.
package cloudflaretest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
)

// SchemaVersion is the published schema the fake's request checks and
// answers follow: cloudflare/api-schemas, openapi.json (info.version
// 4.0.0) at commit ebdfba7e8ee533e5ae625088257e226d62b5662c. Where the
// official Go SDK (cloudflare-go v6.10.0) calls an endpoint the schema
// lacks, the fake answers both: POST …/bulk/delete (the SDK) and DELETE
// …/bulk (the schema), unless OnlyDeleteBulk. Fields the schema gives
// and the SDK reads (successful_key_count, unsuccessful_keys on a bulk
// write; total_pages in result_info) are returned too.
//
// From the schema: certificate list result_info {count, page, per_page,
// total_count}; POST certificates 201 with name and certificate required,
// associated_hostnames optional; PUT certificate with associated_hostnames
// required; settings PUT 202, every item's hostname, china_network and
// client_certificate_forwarding required, no other field; KV bulk write an
// array of {key ≤512 bytes, value, base64, expiration, expiration_ttl ≥60,
// metadata}; KV keys limit 10..1000 with a cursor; the failure envelope
// {success: false, errors: [{code ≥1000, message}], messages, result: null};
// Worker names ^[a-z0-9_][a-z0-9-_]*$; routes {pattern required, script}.
const SchemaVersion = "cloudflare/api-schemas openapi.json 4.0.0 @ ebdfba7e8ee533e5ae625088257e226d62b5662c"

// Token is the API token the fake accepts.
const Token = "fake-token-8b1d3c0e5f7a9b2d4c6e8f0a1b3c5d7e"

// Account and Zone are the IDs the fake serves.
const (
	Account = "023e105f4ecef8ad9ca31a8372d0c353"
	Zone    = "9a7806061c88ada191ed06f989cc3dac"
)

// Request is one request the fake answered.
type Request struct {
	Method string      `json:"method"`
	Path   string      `json:"path"` // below /client/v4, with the query
	Status int         `json:"status"`
	Items  int         `json:"items,omitempty"` // pairs or keys in a bulk body
	Keys   []string    `json:"-"`
	Header http.Header `json:"-"`
}

// Cert is an Access mTLS certificate held by the fake.
type Cert struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"`
	Hostnames   []string  `json:"associated_hostnames"`
	ExpiresOn   time.Time `json:"expires_on"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	PEM         string    `json:"-"`
}

// Setting is one hostname's settings.
type Setting struct {
	Hostname     string `json:"hostname"`
	ChinaNetwork bool   `json:"china_network"`
	Forwarding   bool   `json:"client_certificate_forwarding"`
}

// KVEntry is a value and its metadata.
type KVEntry struct {
	Value    string `json:"value"`
	Metadata any    `json:"metadata,omitempty"`
}

// Script is an uploaded Worker.
type Script struct {
	ID         string            `json:"id"`
	Tags       []string          `json:"tags"`
	Metadata   map[string]any    `json:"-"`
	Modules    map[string]string `json:"-"`
	ModifiedOn time.Time         `json:"modified_on"`
}

// Route is a zone's Worker route.
type Route struct {
	ID      string `json:"id"`
	Pattern string `json:"pattern"`
	Script  string `json:"script"`
}

// Fault is an injected failure: the next Times requests matching Method
// and Path answer Status with the failure envelope (a 200 so says
// "success": false, as a proxy or a broken API might). With After, the request is carried out first
// (the failure is Cloudflare's side failing after the change). Message
// replaces the error message; "$AUTH" in it becomes the request's
// Authorization header, as a careless proxy might echo it.
type Fault struct {
	Method     string
	Path       string // a regexp on the path below /client/v4
	Status     int
	Times      int
	RetryAfter string
	Message    string
	After      bool
	// Location makes the answer a redirect there (Status 3xx).
	Location string
	// Truncate sends Status with the JSON cut in half, as a dropped
	// connection or a broken proxy would.
	Truncate bool
	// Pad answers Status (a 2xx) with the success envelope, its result
	// empty and an extra field padding the body to Pad bytes, streamed:
	// a hostile or broken server's endless answer.
	Pad int64
	// Body answers Status with this body as it is (not the API's JSON),
	// Content-Type text/html: a proxy's error page. "$AUTH" in it becomes
	// the request's Authorization header, as a careless proxy might echo.
	Body string
	re   *regexp.Regexp
}

// Server is the fake. Its fields may be read and set under Lock.
type Server struct {
	*httptest.Server
	sync.Mutex
	Certs    []*Cert
	Settings []Setting
	KV       map[string]map[string]KVEntry // namespace → key → entry
	Scripts  map[string]*Script
	Routes   []Route
	Log      []Request
	// RefuseSharedHostnames makes a hostname on two certificates a 400,
	// as Access may answer; the default accepts it.
	RefuseSharedHostnames bool
	// KeysPageLimit caps a KV keys page below the client's limit, so
	// small tests see the cursor at work.
	KeysPageLimit int
	// OnlyDeleteBulk answers POST …/bulk/delete 405, as a server that
	// knows only the schema's DELETE …/bulk would.
	OnlyDeleteBulk bool
	// SettingsPerPage pages the hostname settings list (result_info
	// counts them all), as a server may; 0 lists them in one page.
	SettingsPerPage int
	// KeysEmptyFirst answers the first keys page empty with a cursor, as
	// KV may mid-list; KeysLoop answers every page empty with the same
	// cursor, as a broken server would.
	KeysEmptyFirst, KeysLoop bool
	// EchoAuthInRay puts the Authorization header in Cf-Ray, as a
	// careless proxy might echo it.
	EchoAuthInRay bool
	// IgnorePage answers every certificate list (and paged settings list)
	// with page 1, as a server without paging parameters (the published
	// schema lists none) would.
	IgnorePage bool
	// EndlessCertPages answers every certificate list page full of
	// certificates never seen before, with a result_info that always
	// counts one page more: a list that never ends.
	EndlessCertPages bool
	// KeysEndless answers every KV keys page empty with a cursor never
	// given before: a key listing that never ends.
	KeysEndless bool
	// NextIDs are the IDs the next certificates made (created, or added
	// with AddCert) get, in order,
	// instead of generated ones: an ID is the API's text, and may be
	// hostile.
	NextIDs []string
	faults  []*Fault
	seq     int
}

// New starts a fake over TLS (httptest's certificate: trust it with
// Server.Certificate(), or SSL_CERT_FILE for another process).
func New() *Server {
	s := newServer()
	s.Server = httptest.NewTLSServer(s)
	return s
}

// NewPlain starts a fake over plain HTTP on loopback.
func NewPlain() *Server {
	s := newServer()
	s.Server = httptest.NewServer(s)
	return s
}

func newServer() *Server {
	return &Server{KV: map[string]map[string]KVEntry{}, Scripts: map[string]*Script{}}
}

// BaseURL is the API root to give a client (CLOUDFLARE_BASE_URL).
func (s *Server) BaseURL() string { return s.URL + "/client/v4" }

// Fail makes the next times requests matching method and the path regexp
// answer status (with Retry-After when retryAfter is not "").
func (s *Server) Fail(method, pathRE string, status, times int, retryAfter string) {
	s.AddFault(Fault{Method: method, Path: pathRE, Status: status, Times: times, RetryAfter: retryAfter})
}

// AddFault injects f.
func (s *Server) AddFault(f Fault) {
	s.Lock()
	defer s.Unlock()
	f.re = regexp.MustCompile(f.Path)
	s.faults = append(s.faults, &f)
}

// Writes are the logged requests other than GET.
func (s *Server) Writes() []Request {
	s.Lock()
	defer s.Unlock()
	var out []Request
	for _, r := range s.Log {
		if r.Method != http.MethodGet {
			out = append(out, r)
		}
	}
	return out
}

// envelope is Cloudflare's response wrapper.
type envelope struct {
	Success    bool     `json:"success"`
	Errors     []apiMsg `json:"errors"`
	Messages   []apiMsg `json:"messages"`
	Result     any      `json:"result"`
	ResultInfo any      `json:"result_info,omitempty"`
}

type apiMsg struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

type reply struct {
	status   int
	result   any
	info     any
	errs     []apiMsg
	header   map[string]string
	truncate bool
	pad      int64
	raw      *string // a body as it is, not the envelope
}

func ok(status int, result any) reply { return reply{status: status, result: result} }

func fail(status, code int, format string, args ...any) reply {
	return reply{status: status, errs: []apiMsg{{Code: code, Message: fmt.Sprintf(format, args...)}}}
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	path := strings.TrimPrefix(r.URL.Path, "/client/v4")
	s.Lock()
	rep, items, keys := s.route(r, path, body)
	logged := path
	if r.URL.RawQuery != "" {
		logged += "?" + r.URL.RawQuery
	}
	s.Log = append(s.Log, Request{Method: r.Method, Path: logged, Status: rep.status, Items: items, Keys: keys, Header: r.Header.Clone()})
	s.Unlock()
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.raw != nil {
		w.Header().Set("Content-Type", "text/html")
	}
	ray := fmt.Sprintf("%016x-LHR", time.Now().UnixNano())
	if s.EchoAuthInRay {
		ray += " " + r.Header.Get("Authorization")
	}
	w.Header().Set("Cf-Ray", ray)
	w.WriteHeader(rep.status)
	if rep.raw != nil {
		io.WriteString(w, *rep.raw)
		return
	}
	if rep.pad > 0 {
		writePadded(w, rep.pad)
		return
	}
	env := envelope{Success: rep.errs == nil, Errors: rep.errs, Messages: []apiMsg{}, Result: rep.result, ResultInfo: rep.info}
	if env.Errors == nil {
		env.Errors = []apiMsg{}
	}
	b, _ := json.Marshal(env)
	if rep.truncate {
		b = b[:len(b)/2]
	}
	w.Write(b)
}

var (
	certsRE          = regexp.MustCompile(`^/(accounts|zones)/([^/]+)/access/certificates$`)
	certRE           = regexp.MustCompile(`^/(accounts|zones)/([^/]+)/access/certificates/([^/]+)$`)
	settingsRE       = regexp.MustCompile(`^/(accounts|zones)/([^/]+)/access/certificates/settings$`)
	kvRE             = regexp.MustCompile(`^/accounts/([^/]+)/storage/kv/namespaces/([^/]+)/(keys|bulk|bulk/delete)$`)
	kvValueRE        = regexp.MustCompile(`^/accounts/([^/]+)/storage/kv/namespaces/([^/]+)/values/([^/]+)$`)
	scriptsRE        = regexp.MustCompile(`^/accounts/([^/]+)/workers/scripts$`)
	scriptRE         = regexp.MustCompile(`^/accounts/([^/]+)/workers/scripts/([^/]+)$`)
	settingsScriptRE = regexp.MustCompile(`^/accounts/([^/]+)/workers/scripts/([^/]+)/settings$`)
	routesRE         = regexp.MustCompile(`^/zones/([^/]+)/workers/routes$`)
)

// route answers one request; it runs under the lock.
func (s *Server) route(r *http.Request, path string, body []byte) (reply, int, []string) {
	for _, f := range s.faults {
		if f.Times > 0 && f.Method == r.Method && f.re.MatchString(path) {
			f.Times--
			items, keys := 0, []string(nil)
			if f.After {
				_, items, keys = s.serve(r, path, body)
			}
			rep := fail(f.Status, 10013+f.Status, "injected %d %s", f.Status, http.StatusText(f.Status))
			if f.Status == http.StatusTooManyRequests {
				rep = fail(f.Status, 971, "Please wait and consider throttling your request speed")
			}
			if f.Message != "" {
				rep.errs[0].Message = strings.ReplaceAll(f.Message, "$AUTH", r.Header.Get("Authorization"))
			}
			if f.RetryAfter != "" {
				rep.header = map[string]string{"Retry-After": f.RetryAfter}
			}
			if f.Location != "" {
				rep.header = map[string]string{"Location": f.Location}
			}
			rep.truncate = f.Truncate
			if f.Pad > 0 {
				rep = reply{status: f.Status, pad: f.Pad}
			}
			if f.Body != "" {
				body := strings.ReplaceAll(f.Body, "$AUTH", r.Header.Get("Authorization"))
				rep.raw = &body
			}
			return rep, items, keys
		}
	}
	return s.serve(r, path, body)
}

// serve answers a request no fault intercepted.
func (s *Server) serve(r *http.Request, path string, body []byte) (reply, int, []string) {
	// A token is required; Cloudflare answers a bad one with 403 and
	// error 10000 (or 9109 for a malformed one).
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+Token {
		return fail(http.StatusForbidden, 10000, "Authentication error"), 0, nil
	}
	if m := settingsRE.FindStringSubmatch(path); m != nil {
		if rep, bad := s.checkScope(m[1], m[2]); bad {
			return rep, 0, nil
		}
		return s.settings(r, body), 0, nil
	}
	if m := certsRE.FindStringSubmatch(path); m != nil {
		if rep, bad := s.checkScope(m[1], m[2]); bad {
			return rep, 0, nil
		}
		switch r.Method {
		case http.MethodGet:
			return s.listCerts(r), 0, nil
		case http.MethodPost:
			return s.createCert(body), 0, nil
		}
		return fail(http.StatusMethodNotAllowed, 10405, "method not allowed"), 0, nil
	}
	if m := certRE.FindStringSubmatch(path); m != nil {
		if rep, bad := s.checkScope(m[1], m[2]); bad {
			return rep, 0, nil
		}
		return s.oneCert(r, m[3], body), 0, nil
	}
	if m := kvRE.FindStringSubmatch(path); m != nil {
		if m[1] != Account {
			return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
		}
		return s.kv(r, m[2], m[3], body)
	}
	// One key, URL-encoded in the path (DELETE …/values/{key_name}, as
	// `wrangler kv key delete --remote` sends it).
	if m := kvValueRE.FindStringSubmatch(strings.TrimPrefix(r.URL.EscapedPath(), "/client/v4")); m != nil && r.Method == http.MethodDelete {
		key, err := url.PathUnescape(m[3])
		switch {
		case m[1] != Account:
			return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
		case s.KV[m[2]] == nil:
			return fail(http.StatusNotFound, 10013, "namespace not found"), 0, nil
		case err != nil:
			return fail(http.StatusBadRequest, 10033, "key_name: not URL-encoded"), 0, nil
		}
		delete(s.KV[m[2]], key)
		return ok(http.StatusOK, nil), 1, []string{key}
	}
	if m := scriptsRE.FindStringSubmatch(path); m != nil && m[1] != Account {
		return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
	}
	if m := scriptRE.FindStringSubmatch(path); m != nil && m[1] != Account {
		return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
	}
	if m := settingsScriptRE.FindStringSubmatch(path); m != nil && m[1] != Account {
		return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
	}
	if m := scriptsRE.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		return s.listScripts(), 0, nil
	}
	if m := settingsScriptRE.FindStringSubmatch(path); m != nil && r.Method == http.MethodGet {
		return s.scriptSettings(m[2]), 0, nil
	}
	if m := scriptRE.FindStringSubmatch(path); m != nil && r.Method == http.MethodPut {
		return s.putScript(r, m[2], body), 0, nil
	}
	if m := routesRE.FindStringSubmatch(path); m != nil {
		if m[1] != Zone {
			return fail(http.StatusNotFound, 7003, "Could not route to %s, perhaps your object identifier is invalid?", path), 0, nil
		}
		return s.routes(r, body), 0, nil
	}
	return fail(http.StatusNotFound, 7000, "No route for that URI"), 0, nil
}

func (s *Server) checkScope(kind, id string) (reply, bool) {
	if (kind == "accounts" && id == Account) || (kind == "zones" && id == Zone) {
		return reply{}, false
	}
	return fail(http.StatusNotFound, 7003, "Could not route to /%s/%s, perhaps your object identifier is invalid?", kind, id), true
}

func (s *Server) newID() string {
	s.seq++
	if len(s.NextIDs) > 0 {
		id := s.NextIDs[0]
		s.NextIDs = s.NextIDs[1:]
		return id
	}
	b := make([]byte, 6)
	rand.Read(b)
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%s", s.seq, s.seq, s.seq%0xfff, s.seq%0xfff, hex.EncodeToString(b))
}
