package cloudflare

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/cloudflare/cloudflaretest"
)

// 21.13: a 2xx body past MaxAnswerBytes is refused, not read whole.
func TestHugeAnswerRefused(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
	// Four times the cap, streamed: the old client read it all and took
	// the empty result as an empty account.
	s.AddFault(cloudflaretest.Fault{Method: http.MethodGet, Path: `/access/certificates$`, Status: http.StatusOK, Times: 1, Pad: 4 * MaxAnswerBytes})
	s.AddFault(cloudflaretest.Fault{Method: http.MethodGet, Path: `/keys$`, Status: http.StatusOK, Times: 1, Pad: 4 * MaxAnswerBytes})
	c := newTestClient(t, s, nil)
	ca, _ := testCA(t, "CA")
	_, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}, Name: "x"})
	var ae *APIError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "larger than 16 MiB, mtlsctl's cap on an API answer: not read") {
		t.Fatalf("upload: %v: want the cap named", err)
	}
	if _, err := c.Push(context.Background(), pushRequest(3)); err == nil || !strings.Contains(err.Error(), "larger than 16 MiB") {
		t.Fatalf("push: %v: want the cap named", err)
	}
	if w := s.Writes(); len(w) != 0 {
		t.Fatalf("writes after an unread list: %v", w)
	}
}

// 21.13: a certificate list that never ends fails past MaxCertificates;
// upload then creates nothing (it used to stop at 1,000 pages and take
// what it had as the whole list).
func TestCertificateListPastItsBoundFails(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.EndlessCertPages = true
	c := newTestClient(t, s, nil)
	if _, err := c.Certificates(context.Background()); err == nil || !strings.Contains(err.Error(), "the certificate list goes past 1000 certificates") {
		t.Fatalf("%v: want the bound named", err)
	}
	if n := len(s.Log); n > MaxCertificates/pageSize+1 {
		t.Errorf("%d list requests: the bound was not kept", n)
	}
	ca, _ := testCA(t, "CA")
	if _, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{ca}, Name: "x"}); err == nil {
		t.Fatal("upload went on from an incomplete list")
	}
	if w := s.Writes(); len(w) != 0 {
		t.Fatalf("writes: %v", w)
	}
}

// 21.13: a list that stops short of the count the API reported (a server
// ignoring "page") is an error, and upload of a CA the unread part holds
// creates no duplicate.
func TestCertificateListShortOfItsCountFails(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.IgnorePage = true
	for i := 0; i < 70; i++ {
		_, p := testCA(t, "CA")
		s.AddCert("ca", p)
	}
	mine, p := testCA(t, "Mine")
	s.AddCert("mine", p) // the 71st: on the page the server never gives
	c := newTestClient(t, s, nil)
	if _, err := c.Certificates(context.Background()); err == nil || !strings.Contains(err.Error(), "the API counts 71 certificates but lists 50") {
		t.Fatalf("%v: want the shortfall named", err)
	}
	if _, err := c.Upload(context.Background(), UploadRequest{Chain: []*x509.Certificate{mine}, Name: "mine"}); err == nil {
		t.Fatal("upload went on from an incomplete list")
	}
	if w := s.Writes(); len(w) != 0 {
		t.Fatalf("a duplicate create: %v", w)
	}
}

// 21.13: a KV key listing whose cursor never repeats stops at the bound
// (lowered here so the test makes 40 requests, not 10,000) and writes
// nothing. The deadline only keeps the old client, which looped forever,
// from hanging the test.
func TestKVListingWithEndlessCursorFails(t *testing.T) {
	s := cloudflaretest.NewPlain()
	defer s.Close()
	s.KV["ns"] = map[string]cloudflaretest.KVEntry{}
	s.KeysEndless = true
	c := newTestClient(t, s, nil)
	c.maxKeyPages = 40
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Push(ctx, pushRequest(3))
	if err == nil || !strings.Contains(err.Error(), "the key list goes on past 40 pages") {
		t.Fatalf("%v: want the bound named", err)
	}
	if n := len(s.Log); n != 40 {
		t.Errorf("%d key list requests, want 40", n)
	}
	if w := s.Writes(); len(w) != 0 {
		t.Fatalf("writes: %v", w)
	}
}
