package cloudflare

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// What a server (or anything between it and us) answers is untrusted:
// whatever the status, body and headers, checkAnswer and jsonErrorBody
// do not panic, a failure's message carries neither the token nor a
// control character, and a failed response the SDK reads is always the
// API's JSON envelope with its status kept.
func FuzzServerAnswer(f *testing.F) {
	const token = "fuzz-token-0123456789abcdef"
	f.Add(200, `{"success":false,"errors":[{"code":7003,"message":"no route"}]}`, "", "application/json")
	f.Add(200, `{"success":true,"result":[]}`, "", "application/json")
	f.Add(302, "", "https://evil.example/?t="+token, "")
	f.Add(502, "<html>Bad gateway\x1b[31m "+token+"</html>", "", "text/html")
	f.Add(403, `{"success":false,"errors":[{"code":10000,"message":"Authentication error"}]}`, "", "application/json")
	f.Add(500, "", "", "")
	f.Add(200, `{"success":false,"errors":[{"code":1,"message":"fuzz-tok\u0001en-0123456789abcdef"}]}`, "", "application/json")
	f.Fuzz(func(t *testing.T, status int, body, location, ctype string) {
		if status < 100 || status > 599 {
			return
		}
		c := &Client{cfg: Config{Token: token}}
		res := &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body))}
		res.Header.Set("Location", location)
		if ctype != "" {
			res.Header.Set("Content-Type", ctype)
		}
		out, err := c.checkAnswer(http.MethodGet, "/p", res)
		if err != nil {
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("not an APIError: %v", err)
			}
			for _, s := range []string{ae.Message, ae.Error()} {
				if strings.Contains(s, token) {
					t.Fatalf("the token is in %q", s)
				}
				if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
					t.Fatalf("a control character in %q", s)
				}
			}
			return
		}
		if status >= 300 && status < 400 {
			t.Fatalf("a %d was taken as an answer", status)
		}
		out = c.jsonErrorBody(out)
		if status < 400 {
			return
		}
		if out.StatusCode != status {
			t.Fatalf("status %d became %d", status, out.StatusCode)
		}
		data, _ := io.ReadAll(out.Body)
		var env struct {
			Errors []struct {
				Message string `json:"message"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(data, &env); err != nil || len(env.Errors) == 0 {
			t.Fatalf("the SDK would read %q: %v", data, err)
		}
	})
}
