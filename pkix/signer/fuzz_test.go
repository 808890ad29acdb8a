package signer

import (
	"crypto/x509"
	"errors"
	"strings"
	"testing"
	"time"

	"crypto/x509/pkix"
)

// The request bytes are read for their time and nonce (after the HMAC
// check, but still a parser of what a runner sends): no panic, and a
// stamped result always has both a time and a nonce of 16 to 64 bytes.
func FuzzReadFreshness(f *testing.F) {
	f.Add([]byte(`{"metadata": {"mtlsctl_time": "2026-11-27T22:00:00.5Z", "mtlsctl_nonce": "AAECAwQFBgcICQoLDA0ODw=="}}`))
	f.Add([]byte(`{"metadata": null}`))
	f.Add([]byte(`{"Metadata": {"MTLSCTL_TIME": 1}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, r []byte) {
		fr, err := ReadFreshness(r)
		if err != nil {
			if fr.Stamped {
				t.Fatal("stamped and an error")
			}
			return
		}
		if fr.Stamped && (fr.Time.IsZero() || len(fr.Nonce) < 16 || len(fr.Nonce) > 64) {
			t.Fatalf("stamped %+v", fr)
		}
		_ = fr.Check(time.Now())
	})
}

// A grant is read from a client certificate's extension: whatever its
// bytes, no panic, and what is accepted is a grant Check accepts.
func FuzzGrantOf(f *testing.F) {
	ext, _ := Grant{Role: RoleRunner, Profiles: []string{"client"}, CNs: []string{"ci-*"}}.Extension()
	f.Add(ext.Value)
	admin, _ := Grant{Role: RoleAdmin}.Extension()
	f.Add(admin.Value)
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, value []byte) {
		c := &x509.Certificate{Extensions: []pkix.Extension{{Id: OIDGrant, Value: value}}}
		g, err := GrantOf(c)
		if err != nil {
			return
		}
		if err := g.Check(); err != nil {
			t.Fatalf("accepted a grant Check refuses: %v", err)
		}
		_ = g.Allows("client", "ci-1")
	})
}

// What a signer (or anything in its place) answers a runner is read for
// its message: no panic, no control character reaches the runner's
// terminal, and a refusal is told apart only by the signer's own code.
func FuzzRemoteFailure(f *testing.F) {
	f.Add(`{"code":7400,"message":"{\"success\":false,\"errors\":[{\"code\":5300,\"message\":\"CN \\\"x\\\" matches none\"}]}"}`)
	f.Add("failed POST to https://x: dial tcp: connection refused")
	f.Add("{\"errors\":[{\"code\":5300,\"message\":\"\x1b[31mred\"}]}")
	f.Fuzz(func(t *testing.T, msg string) {
		e := remoteFailure(errors.New(msg))
		if e.refused && !strings.Contains(msg, "5300") {
			t.Fatalf("a refusal without the refusal code: %q", msg)
		}
		if strings.ContainsFunc(e.msg, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			t.Fatalf("a control character reaches the runner: %q", e.msg)
		}
	})
}
