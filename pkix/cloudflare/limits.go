package cloudflare

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/mtlsctl/mtlsctl/pkix"
)

// The bounds on what the API may send back. Cloudflare's answers are
// small (a page of 1,000 KV keys with their metadata is under 2 MB), so
// anything past these is a broken or hostile server, or a proxy in
// between: the command fails rather than run out of memory, loop
// forever, or act on a list it did not read to the end.
const (
	// MaxAnswerBytes caps one API answer's body.
	MaxAnswerBytes = 16 << 20
	// MaxCertificates bounds the certificate list: Access holds at most
	// 50 per account or zone, so 1,000 is a broken listing.
	MaxCertificates = 1000
	// MaxKeyPages bounds a KV key listing, whose result_info carries no
	// total: 10,000 pages is 10 million keys at the API's 1,000 a page.
	MaxKeyPages = 10000
	// errorBodyBytes is how much of a failed answer is read for its
	// message; the rest is not needed.
	errorBodyBytes = 1 << 20
)

// listTooLong is the failure of a listing that went past its bound: what
// was read is never taken as the whole list.
func (c *Client) listTooLong(path, what string) error {
	return &APIError{Method: http.MethodGet, Path: path, Status: http.StatusOK,
		Message: what + ": the list was not read to its end, so nothing was written",
		Hint:    pkix.Words("a server or proxy in between is answering wrongly (Cloudflare's lists are bounded); check CLOUDFLARE_BASE_URL and HTTPS_PROXY, then run again")}
}

func tooLargeMessage(status string) string {
	return fmt.Sprintf("the answer (%s) is larger than %d MiB, mtlsctl's cap on an API answer: not read", status, MaxAnswerBytes>>20)
}

// pathID is an ID from the API as a path segment. The SDK puts IDs into
// the path as they are, so an ID with a "/" or "?" in it would name
// another resource, and one with a control character could not be sent
// at all; escaped, it names exactly the certificate that was listed.
func pathID(id string) string { return url.PathEscape(id) }
