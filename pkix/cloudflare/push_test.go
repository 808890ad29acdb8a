package cloudflare

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

func newTestClient(t testing.TB, s *cloudflaretest.Server, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Token: cloudflaretest.Token, AccountID: cloudflaretest.Account, BaseURL: s.BaseURL(), Log: io.Discard, RetryBase: time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pushRequest(n int) PushRequest {
	return PushRequest{
		NamespaceID: "ns",
		Prefix:      "mtlsctl:",
		Meta:        KVPair{Key: "mtlsctl:meta", Value: fmt.Sprintf(`{"n":%d}`, n)},
		Each: func(fn func(KVPair) error) error {
			for i := 0; i < n; i++ {
				if err := fn(KVPair{Key: fmt.Sprintf("mtlsctl:rev:AB:%X", i+1), Value: `{"revoked_at":"2026-01-01T00:00:00Z"}`}); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func TestPushChunksAndIsIdempotent(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{"someone:else": {Value: "x"}}
	c := newTestClient(t, s, nil)
	res, err := c.Push(context.Background(), pushRequest(25000))
	if err != nil {
		t.Fatal(err)
	}
	if res.Written != 25001 || res.Requests != 4 {
		t.Fatalf("written %d in %d requests, want 25001 in 4", res.Written, res.Requests)
	}
	w := s.Writes()
	if len(w) != 4 || w[0].Items != 10000 || w[2].Items != 5000 || w[3].Items != 1 || w[3].Keys[0] != "mtlsctl:meta" {
		t.Fatalf("writes %+v: want 10000, 10000, 5000, then the metadata", w)
	}
	res, err = c.Push(context.Background(), pushRequest(25000))
	if err != nil || res.Status != "unchanged" || len(s.Writes()) != 4 {
		t.Fatalf("second push: %+v, %v, %d writes", res, err, len(s.Writes()))
	}
	if s.KV["ns"]["someone:else"].Value != "x" {
		t.Fatal("a key outside the prefix was touched")
	}
}

// BenchmarkPush25k: a first push of 25,000 revocations to the local fake
// (four bulk writes) and a rerun that finds nothing to write (25 key
// list pages), through our body encoder, not the SDK's quadratic one.
func BenchmarkPush25k(b *testing.B) {
	for _, rerun := range []bool{false, true} {
		name := map[bool]string{false: "first", true: "rerun"}[rerun]
		b.Run(name, func(b *testing.B) {
			s := cloudflaretest.NewPlain()
			defer s.Close()
			c := newTestClient(b, s, nil)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if !rerun || i == 0 {
					s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
					if rerun {
						if _, err := c.Push(context.Background(), pushRequest(25000)); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.StartTimer()
				res, err := c.Push(context.Background(), pushRequest(25000))
				if err != nil {
					b.Fatal(err)
				}
				if rerun != (res.Status == "unchanged") {
					b.Fatalf("status %s", res.Status)
				}
			}
		})
	}
}
