package cloudflare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/cloudflare/cloudflare-go/v6/option"
	"github.com/mtlsctl/mtlsctl/pkix"
)

// middleware wraps every request the SDK makes: a write is printed and
// answered locally under --dry-run; a 429 or 5xx is retried where that is
// safe; --verbose gets one line per attempt. No header is ever printed, so
// the token cannot be.
func (c *Client) middleware(req *http.Request, next option.MiddlewareNext) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	path := c.relPath(req)
	if c.cfg.DryRun && req.Method != http.MethodGet {
		fmt.Fprintf(c.cfg.Log, "dry run: %s %s\n", req.Method, path)
		if len(body) > 0 {
			fmt.Fprintf(c.cfg.Log, "  %s\n", c.redact(describeBody(req.Header.Get("Content-Type"), body)))
		}
		return dryRunResponse(req), nil
	}
	for attempt := 0; ; attempt++ {
		if body != nil {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		}
		start := time.Now()
		res, err := next(req)
		if c.cfg.Verbose {
			c.logAttempt(req.Method, path, res, err, time.Since(start))
		}
		if attempt >= c.cfg.Retries || !c.retryable(req.Method, path, res, err) {
			if err != nil {
				return nil, err
			}
			return c.checkAnswer(req.Method, path, c.jsonErrorBody(res))
		}
		wait, ok := c.backoff(res, attempt)
		if !ok {
			// Asked to wait longer than we will: report it.
			res = c.jsonErrorBody(res)
			res.Header.Set("X-Mtlsctl-Wait-Refused", res.Header.Get("Retry-After"))
			return res, nil
		}
		if res != nil {
			// Drained (bounded) so the connection can be reused; a
			// larger body is dropped with its connection.
			io.CopyN(io.Discard, res.Body, errorBodyBytes)
			res.Body.Close()
		}
		// Always said, not only with --verbose: a CI log should show why
		// a step took a minute.
		fmt.Fprintf(c.cfg.Log, "mtlsctl: note: %s %s: %s; retrying in %s (%d of %d)\n", req.Method, path, c.redact(printable(attemptStatus(res, err))), wait.Round(time.Millisecond), attempt+1, c.cfg.Retries)
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
}

// retryable: 429 (the request was not processed) always; 5xx and broken
// connections only for requests that can be applied twice without harm.
// Creating an Access certificate is the one that cannot: Upload looks
// again before trying a create a second time.
func (c *Client) retryable(method, path string, res *http.Response, err error) bool {
	if err != nil {
		return !canceled(err) && idempotent(method, path)
	}
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		return true
	case res.StatusCode >= 500:
		return idempotent(method, path)
	}
	return false
}

func idempotent(method, path string) bool {
	if method != http.MethodPost {
		return true
	}
	return strings.HasSuffix(path, "/bulk/delete") // deleting twice deletes once
}

// backoff honours Retry-After (seconds or an HTTP date) up to MaxWait, and
// otherwise doubles RetryBase each attempt, with jitter so that many CI
// runners rate-limited together do not retry together.
func (c *Client) backoff(res *http.Response, attempt int) (time.Duration, bool) {
	if res != nil {
		if ra := res.Header.Get("Retry-After"); ra != "" {
			var d time.Duration
			if s, err := strconv.ParseFloat(ra, 64); err == nil {
				d = time.Duration(s * float64(time.Second))
			} else if t, err := http.ParseTime(ra); err == nil {
				d = time.Until(t)
			}
			if d > c.cfg.MaxWait {
				return 0, false
			}
			return max(d, 0), true
		}
	}
	d := c.cfg.RetryBase << attempt
	return d - time.Duration(rand.Int64N(int64(d)/4+1)), true
}

func attemptStatus(res *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return res.Status
}

func (c *Client) logAttempt(method, path string, res *http.Response, err error, took time.Duration) {
	status := attemptStatus(res, err)
	ray := ""
	if res != nil && res.Header.Get("Cf-Ray") != "" {
		ray = " cf-ray " + res.Header.Get("Cf-Ray")
	}
	// Everything from the server is cleaned of control characters, then
	// of the token (a header can echo it).
	fmt.Fprintf(c.cfg.Log, "mtlsctl: api: %s %s → %s (%s)%s\n", method, path, c.redact(printable(status)), took.Round(time.Millisecond), c.redact(printable(ray)))
}

// relPath is the request's path and query below the API root, as the
// API's documentation writes it.
func (c *Client) relPath(req *http.Request) string {
	base, _ := CheckBaseURL(c.cfg.BaseURL)
	p := req.URL.Path
	if base != nil {
		p = "/" + strings.TrimPrefix(p, strings.TrimSuffix(base.Path, "/")+"/")
	}
	if req.URL.RawQuery != "" {
		p += "?" + req.URL.RawQuery
	}
	return p
}

// describeBody is a request body as --dry-run shows it: JSON compacted,
// a PEM certificate cut to its first line, a long array counted.
func describeBody(contentType string, body []byte) string {
	if strings.HasPrefix(contentType, "multipart/") {
		return fmt.Sprintf("(multipart form, %d bytes: the Worker's script and its metadata)", len(body))
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Sprintf("(%d bytes)", len(body))
	}
	v = shorten(v)
	b, _ := json.Marshal(v)
	return string(b)
}

func shorten(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = shorten(x)
		}
		return t
	case []any:
		if len(t) > 3 {
			return append(shortenAll(t[:2]), fmt.Sprintf("… %d more", len(t)-2))
		}
		return shortenAll(t)
	case string:
		if strings.HasPrefix(t, "-----BEGIN ") {
			n := strings.Count(t, "-----BEGIN ")
			return fmt.Sprintf("%s… (%d PEM block%s, %d bytes)", strings.SplitN(t, "\n", 2)[0], n, map[bool]string{true: "", false: "s"}[n == 1], len(t))
		}
	}
	return v
}

func shortenAll(xs []any) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = shorten(x)
	}
	return out
}

// checkAnswer refuses what the SDK would take as success but is not: a
// redirect (never followed, so nothing was done) and a 2xx whose envelope
// says "success": false.
func (c *Client) checkAnswer(method, path string, res *http.Response) (*http.Response, error) {
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400:
		res.Body.Close()
		loc := printable(res.Header.Get("Location"))
		if loc == "" {
			loc = "nowhere"
		}
		return nil, &APIError{Method: method, Path: path, Status: res.StatusCode,
			Message: c.redact("a redirect to " + loc + ", not followed (the token would go with it)"),
			Hint:    pkix.Words("CLOUDFLARE_BASE_URL must be the API root itself (Cloudflare's is https://api.cloudflare.com/client/v4)")}
	case res.StatusCode >= 200 && res.StatusCode < 300:
		// Capped: the SDK would read any length into memory.
		body, err := io.ReadAll(io.LimitReader(res.Body, MaxAnswerBytes+1))
		res.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(body) > MaxAnswerBytes {
			// Status 0 with unread: for a write, its fate is unknown.
			return nil, &APIError{Method: method, Path: path, Message: tooLargeMessage(printable(res.Status)), unread: true,
				Hint: pkix.Words("a server or proxy in between is answering wrongly (Cloudflare's answers are far smaller); check CLOUDFLARE_BASE_URL and HTTPS_PROXY; a rerun reads first and makes only the writes still needed")}
		}
		res.Body = io.NopCloser(bytes.NewReader(body))
		var env struct {
			Success *bool `json:"success"`
			Errors  []struct {
				Code    int64  `json:"code"`
				Message string `json:"message"`
			} `json:"errors"`
		}
		if json.Unmarshal(body, &env) == nil && env.Success != nil && !*env.Success {
			e := &APIError{Method: method, Path: path, Status: res.StatusCode, Message: "the answer says success: false"}
			var msgs []string
			for i, x := range env.Errors {
				if i == 0 {
					e.Code = x.Code
				}
				msgs = append(msgs, x.Message)
			}
			if len(msgs) > 0 {
				e.Message += ": " + strings.Join(msgs, "; ")
			}
			e.Message = c.redact(printable(e.Message))
			return nil, e
		}
	}
	return res, nil
}

// jsonErrorBody gives a failed response that is not Cloudflare's JSON (a
// proxy's HTML page, an empty body) the API's failure envelope, so the
// SDK reports its status with what the body said, instead of a JSON
// parse error that hides the status.
func (c *Client) jsonErrorBody(res *http.Response) *http.Response {
	if res == nil || res.StatusCode < 400 {
		return res
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, errorBodyBytes))
	res.Body.Close()
	var probe struct {
		Errors []json.RawMessage `json:"errors"`
	}
	if err == nil && json.Unmarshal(body, &probe) == nil && len(probe.Errors) > 0 {
		res.Body = io.NopCloser(bytes.NewReader(body))
		return res
	}
	// Cleaned and redacted before it is cut: a cut first could leave a
	// piece of the token that no longer matches the whole.
	what := c.redact(printable(strings.Join(strings.Fields(string(body)), " ")))
	if len(what) > 120 {
		what = strings.ToValidUTF8(what[:120], "") + "…"
	}
	if what == "" {
		what = "an empty body"
	}
	ct := res.Header.Get("Content-Type")
	if ct == "" {
		ct = "no content type"
	}
	msg, _ := json.Marshal(fmt.Sprintf("not an API response (%s): %s", c.redact(printable(ct)), what))
	env := fmt.Sprintf(`{"success":false,"errors":[{"code":0,"message":%s}],"messages":[],"result":null}`, msg)
	res.Body = io.NopCloser(strings.NewReader(env))
	res.Header.Set("Content-Type", "application/json")
	res.ContentLength = int64(len(env))
	return res
}

// printable drops control characters from text a server sent.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// dryRunResponse answers a write that was not sent with the API's success
// envelope and no result.
func dryRunResponse(req *http.Request) *http.Response {
	body := `{"success":true,"errors":[],"messages":[],"result":null}`
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK (dry run)", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": []string{"application/json"}},
		Body:    io.NopCloser(strings.NewReader(body)),
		Request: req, ContentLength: int64(len(body)),
	}
}
