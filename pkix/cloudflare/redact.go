package cloudflare

import "strings"

// minTokenPiece is the shortest piece of the token that is redacted: 8
// characters of a 40-character random token are still worth guessing
// from; fewer would redact ordinary words.
const minTokenPiece = 8

// redact removes the token from anything printed, wherever it came from
// (an API error or a header can echo it), and every piece of it of
// minTokenPiece characters or more, not just the whole: a cut (ours, a
// proxy's, a server's) that keeps the head of a text leaves a prefix of
// the token at its end, one that keeps the tail leaves a suffix at its
// start, and one that keeps a window in between can leave a middle piece.
// Redacting any piece covers all three.
func (c *Client) redact(s string) string {
	return redactToken(s, c.cfg.Token)
}

func redactToken(s, token string) string {
	if len(token) < minTokenPiece || len(s) < minTokenPiece {
		return s // a token this short is refused by Cloudflare; replacing it would mangle words
	}
	// Mark every byte of s inside a run that is also a run of the token,
	// at least minTokenPiece long: each such run contains one of the
	// token's minTokenPiece-long windows, found here and then extended.
	marked := make([]bool, len(s))
	found := false
	for i := 0; i+minTokenPiece <= len(token); i++ {
		window := token[i : i+minTokenPiece]
		for from := 0; ; {
			at := strings.Index(s[from:], window)
			if at < 0 {
				break
			}
			at += from
			end := at + minTokenPiece
			for end < len(s) && i+end-at < len(token) && s[end] == token[i+end-at] {
				end++
			}
			for k := at; k < end; k++ {
				marked[k] = true
			}
			found = true
			from = at + 1
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for k := 0; k < len(s); {
		if !marked[k] {
			b.WriteByte(s[k])
			k++
			continue
		}
		b.WriteString("[token redacted]")
		for k < len(s) && marked[k] {
			k++
		}
	}
	return b.String()
}
