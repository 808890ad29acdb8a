package cloudflare

import (
	"context"
	"crypto/md5"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	cf "github.com/cloudflare/cloudflare-go/v6"
	"github.com/cloudflare/cloudflare-go/v6/zero_trust"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

// Certificate is an Access mTLS root certificate as the API lists it.
type Certificate struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Fingerprint string    `json:"fingerprint"` // as the API gives it (MD5)
	Hostnames   []string  `json:"associated_hostnames"`
	ExpiresOn   time.Time `json:"expires_on"`
}

// pageSize is the largest page the list takes (per_page); Access allows 50
// certificates per account, so one page is the usual case.
const pageSize = 50

// maxPages bounds a paged list that has a total count (the hostname
// settings): a server that ignores "page" adds nothing and is caught
// earlier, so this only stops one that keeps inventing entries.
const maxPages = 1000

// Certificates lists every Access mTLS certificate of the scope, all
// pages. The list is complete only when it reaches the count the API
// reported (result_info.total_count) or, with no count, its last page;
// one that stops short of the count or runs past MaxCertificates is an
// error, never a shorter list: upload would take a certificate missing
// from it as absent and create a duplicate.
func (c *Client) Certificates(ctx context.Context) ([]Certificate, error) {
	account, zone, err := c.scope()
	if err != nil {
		return nil, err
	}
	var all []Certificate
	seen := map[string]bool{}
	for page := int64(1); ; page++ {
		p := zero_trust.AccessCertificateListParams{Page: cf.F(page), PerPage: cf.F(int64(pageSize))}
		setScope(&p.AccountID, &p.ZoneID, account, zone)
		res, err := c.certs.List(ctx, p)
		if err != nil {
			return nil, c.wrap(http.MethodGet, c.certPath(""), err)
		}
		fresh := 0
		for _, r := range res.Result {
			if seen[r.ID] {
				continue
			}
			seen[r.ID] = true
			fresh++
			all = append(all, fromSDK(r))
		}
		info := pageInfo(res.JSON.RawJSON())
		listed := int64(len(all))
		switch {
		case info.TotalCount > MaxCertificates || listed > MaxCertificates:
			return nil, c.listTooLong(c.certPath(""), fmt.Sprintf("the certificate list goes past %d certificates (Access holds at most 50)", MaxCertificates))
		case info.TotalCount > 0 && listed > info.TotalCount:
			return nil, c.listTooLong(c.certPath(""), fmt.Sprintf("the API counts %d certificates but lists %d", info.TotalCount, listed))
		case info.TotalCount > 0 && listed == info.TotalCount:
			return all, nil
		}
		// The last page is the empty one, or the one result_info says is
		// last; a page of only repeats means the server ignored "page".
		// A short page is not the end: the server may cap per_page below
		// ours.
		if fresh == 0 || (info.TotalPages > 0 && page >= info.TotalPages) {
			if info.TotalCount > listed {
				return nil, c.listTooLong(c.certPath(""), fmt.Sprintf("the API counts %d certificates but lists %d", info.TotalCount, listed))
			}
			return all, nil
		}
	}
}

type resultInfo struct {
	TotalPages int64 `json:"total_pages"`
	TotalCount int64 `json:"total_count"`
}

// pageInfo reads result_info's totals, which the SDK's page type drops.
func pageInfo(raw string) resultInfo {
	var env struct {
		ResultInfo resultInfo `json:"result_info"`
	}
	json.Unmarshal([]byte(raw), &env)
	return env.ResultInfo
}

func fromSDK(r zero_trust.Certificate) Certificate {
	h := append([]string{}, r.AssociatedHostnames...)
	return Certificate{ID: r.ID, Name: r.Name, Fingerprint: r.Fingerprint, Hostnames: h, ExpiresOn: r.ExpiresOn}
}

// certPath is a path as messages show it.
func (c *Client) certPath(rest string) string {
	p := "/accounts/" + c.cfg.AccountID
	if c.cfg.AccountID == "" {
		p = "/zones/" + c.cfg.ZoneID
	}
	return p + "/access/certificates" + rest
}

// FingerprintMD5 is the MD5 of a certificate's DER, as hex digits: what
// the API's "fingerprint" field holds, whatever its decoration.
func FingerprintMD5(c *x509.Certificate) string {
	sum := md5.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// NormalizeFingerprint keeps the hex digits of a fingerprint, upper case:
// the schema's examples write "MD5 Fingerprint=1E:80:0F:…", others write
// plain hex. The "MD5" label's digits are dropped with its prefix.
func NormalizeFingerprint(s string) string {
	if i := strings.LastIndexByte(s, '='); i >= 0 {
		s = s[i+1:]
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9', r >= 'A' && r <= 'F':
			b.WriteRune(r)
		case r >= 'a' && r <= 'f':
			b.WriteRune(r - 'a' + 'A')
		}
	}
	return b.String()
}

// Matches says whether the listed certificate is one of certs.
func (ct Certificate) Matches(certs []*x509.Certificate) bool {
	fp := NormalizeFingerprint(ct.Fingerprint)
	if len(fp) != md5.Size*2 {
		return false
	}
	for _, c := range certs {
		if FingerprintMD5(c) == fp {
			return true
		}
	}
	return false
}

// Find picks the certificate named by ref: an ID exactly, else a name
// exactly. A name two certificates share is refused with their IDs.
func Find(all []Certificate, ref string) (Certificate, error) {
	for _, ct := range all {
		if ct.ID == ref {
			return ct, nil
		}
	}
	var named []Certificate
	for _, ct := range all {
		if ct.Name == ref {
			named = append(named, ct)
		}
	}
	switch len(named) {
	case 1:
		return named[0], nil
	case 0:
		var have []string
		for _, ct := range all {
			have = append(have, fmt.Sprintf("%s (%s)", x509text.Printable(ct.ID), x509text.Printable(ct.Name)))
		}
		hint := "the account has no Access certificates"
		if len(have) > 0 {
			hint = "the account has: " + strings.Join(have, ", ")
		}
		return Certificate{}, &pkix.Error{Msg: fmt.Sprintf("no Access certificate has the ID or name %q", ref), Hint: hint, Err: ErrNotFound}
	}
	var ids []string
	for _, ct := range named {
		ids = append(ids, x509text.Printable(ct.ID))
	}
	return Certificate{}, &pkix.Error{Msg: fmt.Sprintf("%d Access certificates are named %q", len(named), ref),
		Hint: "name one by its ID: " + strings.Join(ids, ", ")}
}

// ErrNotFound: no certificate has that ID or name.
var ErrNotFound = fmt.Errorf("not found")

// sameHostnames compares hostname sets, ignoring order and case.
func sameHostnames(a, b []string) bool {
	return slices.Equal(normHosts(a), normHosts(b))
}

func normHosts(h []string) []string {
	out := make([]string, 0, len(h))
	for _, x := range h {
		out = append(out, strings.ToLower(strings.TrimSuffix(x, ".")))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// union is a then b's hostnames not already in a, in order.
func union(a, b []string) []string {
	out := append([]string{}, a...)
	have := map[string]bool{}
	for _, x := range normHosts(a) {
		have[x] = true
	}
	for _, x := range b {
		if k := strings.ToLower(strings.TrimSuffix(x, ".")); !have[k] {
			have[k] = true
			out = append(out, x)
		}
	}
	return out
}

// setScope sets a params struct's account or zone. The SDK's parameter
// type lives in an internal package, so it is inferred, never named.
func setScope[F any](accountField, zoneField *F, account, zone string) {
	mk := func(s string) F { return any(cf.F(s)).(F) }
	if account != "" {
		*accountField = mk(account)
	} else {
		*zoneField = mk(zone)
	}
}
