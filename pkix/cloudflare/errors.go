package cloudflare

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// APIError is a failed call in one line: what was asked, Cloudflare's
// status, error code and message, and a hint where the fix is known.
type APIError struct {
	Method, Path string
	Status       int
	Code         int64
	Message      string
	Hint         pkix.Text
	Err          error
	// unread: an answer came but could not be read (a truncated or
	// non-JSON body), as opposed to no answer at all.
	unread bool
}

// NoAnswer says the request's fate is unknown: no readable answer came.
// For a write, it may have been applied.
func (e *APIError) NoAnswer() bool { return e.Status == 0 }

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne)
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Method, e.Path)
	if e.Status == 0 {
		b.WriteString(e.Message) // no answer: the transport's error
		return b.String()
	}
	fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	if e.Code != 0 {
		fmt.Fprintf(&b, ", error %d", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

func (e *APIError) Unwrap() error { return e.Err }

// HintText is the hint, for the CLI's hint line.
func (e *APIError) HintText() pkix.Text { return e.Hint }

// wrap turns what the SDK returned into an APIError naming the call.
func (c *Client) wrap(method, what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	e := &APIError{Method: method, Path: what, Err: err}
	var se *cf.Error
	if errors.As(err, &se) {
		e.Status = se.StatusCode
		if se.Request != nil {
			e.Method, e.Path = se.Request.Method, c.relPath(se.Request)
		}
		var msgs []string
		for i, d := range se.Errors {
			if i == 0 {
				e.Code = d.Code
			}
			msgs = append(msgs, d.Message)
		}
		e.Message = c.redact(printable(strings.Join(msgs, "; ")))
		if se.Response != nil {
			if wait := se.Response.Header.Get("X-Mtlsctl-Wait-Refused"); wait != "" {
				e.Message += fmt.Sprintf(" (Cloudflare asked to wait %s s, longer than the %s mtlsctl waits)", printable(wait), c.cfg.MaxWait)
			}
		}
		if e.Message == "" {
			e.Message = "(no error message in the response)"
		}
	} else {
		e.Message = c.redact(printable(err.Error()))
		e.unread = !isNetError(err)
		e.Err = errors.New(e.Message)
	}
	e.Hint = hintFor(e)
	return e
}

// permissionFor is the API token permission a call needs, as the
// dashboard's token page names it: a read (GET) needs only Read, so a
// failing list does not send its user off to grant Write.
func permissionFor(method, path string) string {
	level := "Write"
	if method == http.MethodGet {
		level = "Read"
	}
	switch {
	case strings.Contains(path, "/access/certificates"):
		return `"Access: Mutual TLS Certificates ` + level + `" (account or zone, as the certificate's scope)`
	case strings.Contains(path, "/storage/kv/"):
		return `"Workers KV Storage ` + level + `" (account)`
	case strings.Contains(path, "/workers/routes"):
		return `"Workers Routes ` + level + `" (zone)`
	case strings.Contains(path, "/workers/scripts"):
		return `"Workers Scripts ` + level + `" (account)`
	}
	return ""
}

func hintFor(e *APIError) pkix.Text {
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || e.Code == 10000 || e.Code == 9109:
		if p := permissionFor(e.Method, e.Path); p != "" {
			return pkix.Textf("the API token needs the permission "+p+" for this call (each command's --help names all it needs); check CLOUDFLARE_API_TOKEN or %s, and that the account/zone ID is the one the token is for", pkix.OptTokenFile)
		}
		return pkix.Textf("check the API token (CLOUDFLARE_API_TOKEN or %s) and its permissions", pkix.OptTokenFile)
	case e.Status == http.StatusTooManyRequests:
		return pkix.Words("Cloudflare's rate limit (1,200 requests per 5 minutes per user): run again later; nothing is lost by a rerun")
	case e.Status == http.StatusNotFound && strings.Contains(e.Path, "/storage/kv/namespaces/"):
		return pkix.Textf("check the namespace ID (%s): 'npx wrangler kv namespace list' shows them", pkix.OptKVNamespaceID)
	case e.Status == http.StatusNotFound:
		return pkix.Textf("check CLOUDFLARE_ACCOUNT_ID / CLOUDFLARE_ZONE_ID (or %s / %s)", pkix.OptAccountID, pkix.OptZoneID)
	case e.Status >= 500:
		return pkix.Words("Cloudflare's side failed: run the same command again; it reads first and makes only the writes still needed")
	case e.Status == 0 && e.unread:
		return pkix.Words("the answer could not be read (cut short, or not the API's JSON: a proxy in between?); a rerun reads first and makes only the writes still needed")
	case e.Status == 0:
		return pkix.Words("could not reach the API: check the network, a proxy (HTTPS_PROXY) or CLOUDFLARE_BASE_URL")
	}
	return pkix.Text{}
}
