package cloudflare

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

// 22.13: every key of the data, the metadata key included, is written or
// unchanged: Keys == Written + Unchanged on a first push, a rerun with
// nothing changed (which used to report keys 3, written 0, unchanged 2),
// a push with one change and a stale key, and under --dry-run.
func TestPushCountsAddUp(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
	c := newTestClient(t, s, nil)
	dry := newTestClient(t, s, func(cfg *Config) { cfg.DryRun = true })
	changed := pushRequest(2)
	each := changed.Each
	changed.Each = func(fn func(KVPair) error) error {
		return each(func(p KVPair) error {
			if strings.HasSuffix(p.Key, ":1") {
				p.Value = "changed"
			}
			return fn(p)
		})
	}
	for _, step := range []struct {
		name                      string
		c                         *Client
		req                       PushRequest
		written, unchanged, delet int
	}{
		{"first", c, pushRequest(2), 3, 0, 0},
		{"rerun", c, pushRequest(2), 0, 3, 0},
		{"dry run of a change", dry, changed, 2, 1, 0},
		{"every revocation lifted", c, func() PushRequest { r := changed; r.Each = func(fn func(KVPair) error) error { return nil }; return r }(), 1, 0, 2},
	} {
		res, err := step.c.Push(context.Background(), step.req)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if res.Keys != res.Written+res.Unchanged {
			t.Errorf("%s: keys %d, written %d, unchanged %d: they do not add up", step.name, res.Keys, res.Written, res.Unchanged)
		}
		if res.Written != step.written || res.Unchanged != step.unchanged || res.Deleted != step.delet {
			t.Errorf("%s: written %d, unchanged %d, deleted %d; want %d, %d, %d", step.name, res.Written, res.Unchanged, res.Deleted, step.written, step.unchanged, step.delet)
		}
	}
}

// 22.13: the permission hint names what the failing call needs: Read for
// a list, Write for a change.
func TestPermissionHintPerCall(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
	bad := newTestClient(t, s, func(cfg *Config) { cfg.Token = "wrong-token-0123456789" })
	_, err := bad.Certificates(context.Background())
	if h := pkix.HintOf(err).Format; !strings.Contains(h, `"Access: Mutual TLS Certificates Read"`) || strings.Contains(h, "Write") {
		t.Errorf("list: hint %q: want the Read permission", h)
	}
	_, err = bad.Push(context.Background(), pushRequest(1))
	if h := pkix.HintOf(err).Format; !strings.Contains(h, `"Workers KV Storage Read"`) {
		t.Errorf("key list: hint %q: want the Read permission", h)
	}
	s.Fail(http.MethodPut, `/bulk$`, http.StatusForbidden, 1, "")
	c := newTestClient(t, s, nil)
	_, err = c.Push(context.Background(), pushRequest(1))
	if h := pkix.HintOf(err).Format; !strings.Contains(h, `"Workers KV Storage Write"`) {
		t.Errorf("bulk write: hint %q: want the Write permission", h)
	}
}

// 22.11: by name (case-insensitive, the ID breaking ties), or by expiry
// then name; never by ID.
func TestSortCertificates(t *testing.T) {
	now := time.Now()
	certs := []Certificate{
		{ID: "a1", Name: "zeta", ExpiresOn: now.AddDate(0, 0, 10)},
		{ID: "b2", Name: "Alpha", ExpiresOn: now.AddDate(1, 0, 0)},
		{ID: "c3", Name: "beta", ExpiresOn: now.AddDate(0, 1, 0)},
		{ID: "0z", Name: "beta", ExpiresOn: now.AddDate(0, 0, 10)},
	}
	ids := func() string {
		var out []string
		for _, c := range certs {
			out = append(out, c.ID)
		}
		return strings.Join(out, " ")
	}
	SortCertificates(certs, SortByName)
	if got := ids(); got != "b2 0z c3 a1" {
		t.Errorf("by name: %s", got)
	}
	SortCertificates(certs, SortByExpiry)
	if got := ids(); got != "0z a1 c3 b2" {
		t.Errorf("by expiry: %s", got)
	}
}
