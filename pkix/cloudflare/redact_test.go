package cloudflare

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

// leaksToken says whether s holds any piece of the token of
// minTokenPiece characters or more.
func leaksToken(s, token string) string {
	for i := 0; i+minTokenPiece <= len(token); i++ {
		if strings.Contains(s, token[i:i+minTokenPiece]) {
			return token[i : i+minTokenPiece]
		}
	}
	return ""
}

// 21.14: a proxy's error page that echoes the Authorization header, with
// the token straddling the 120-character cut at every offset: no piece of
// it is printed. The old client cut first and redacted only the whole
// token, so the part before the cut (up to 32 of its 40 characters)
// leaked.
func TestTokenStraddlingTheCutRedacted(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	c := newTestClient(t, s, func(cfg *Config) { cfg.Retries = -1 })
	token := cloudflaretest.Token
	const auth = "Bearer "
	for before := 1; before < len(token); before++ {
		// "<html>" and padding, then "Bearer TOKEN": the cut at 120
		// characters falls after `before` characters of the token.
		pad := strings.Repeat("x", 120-len("<html>")-len(auth)-before)
		s.AddFault(cloudflaretest.Fault{Method: http.MethodGet, Path: `/access/certificates$`, Status: http.StatusBadGateway, Times: 1,
			Body: "<html>" + pad + "$AUTH and more</html>"})
		_, err := c.Certificates(context.Background())
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadGateway {
			t.Fatalf("cut after %d characters: %v", before, err)
		}
		if piece := leaksToken(err.Error(), token); piece != "" {
			t.Errorf("cut after %d characters of the token: %q leaks in %q", before, piece, err.Error())
		}
		if !strings.Contains(err.Error(), "<html>"+pad[:10]) {
			t.Errorf("cut after %d: the body's start is gone: %q", before, err.Error())
		}
	}
}

// What a cut can leave: a prefix (the head kept), a suffix (the tail
// kept), a middle piece (a window kept); all go from 8 characters on,
// shorter ones stay (they would redact ordinary words), and text around
// them is kept.
func TestRedactTokenPieces(t *testing.T) {
	tok := cloudflaretest.Token
	for in, want := range map[string]string{
		"a " + tok + " b":         "a [token redacted] b",
		"cut " + tok[:8]:          "cut [token redacted]",
		"cut " + tok[:7]:          "cut " + tok[:7],
		tok[len(tok)-8:] + " end": "[token redacted] end",
		tok[len(tok)-7:] + " end": tok[len(tok)-7:] + " end",
		"mid " + tok[10:30] + ".": "mid [token redacted].",
		tok + tok:                 "[token redacted]",
		"no token here at all":    "no token here at all",
	} {
		if got := redactToken(in, tok); got != want {
			t.Errorf("redactToken(%q) = %q, want %q", in, got, want)
		}
	}
}
