// Command signerload is one runner process of the signer benchmark
// (examples/bench/signer.sh): it makes N ECDSA P-256 CSRs beforehand,
// then sends them to a remote signer through cfssl's own remote client,
// P at a time, and writes each request's latency in microseconds, one a
// line, to -out. With -stamp (mtlsctl signer) each request carries
// mtlsctl's time and nonce; without it, it is what stock cfssl sends.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/log"
	cfsigner "github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/remote"
	"github.com/mtlsctl/mtlsctl/pkix/signer"
)

func main() {
	url := flag.String("url", "", "the signer, https://host:port")
	n := flag.Int("n", 250, "requests")
	par := flag.Int("p", 8, "requests in flight")
	prefix := flag.String("prefix", "ci-0-", "CN prefix")
	caFile := flag.String("ca", "", "the server's CA")
	certFile := flag.String("cert", "", "client certificate")
	keyFile := flag.String("key", "", "client key")
	hmacFile := flag.String("hmac", "", "HMAC key file")
	stamp := flag.Bool("stamp", false, "add mtlsctl's time and nonce")
	out := flag.String("out", "", "latencies file")
	flag.Parse()
	log.Level = log.LevelFatal

	csrs := make([]string, *n)
	for i := range csrs {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: fmt.Sprintf("%s%04d", *prefix, i)}}, key)
		check(err)
		csrs[i] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}
	hmacKey, err := os.ReadFile(*hmacFile)
	check(err)
	cfg, err := config.LoadConfig([]byte(fmt.Sprintf(`{"signing": {"default": {"auth_remote": {"remote": "s", "auth_key": "k"}}},
		"auth_keys": {"k": {"type": "standard", "key": %q}}, "remotes": {"s": %q}}`, strings.TrimSpace(string(hmacKey)), *url)))
	check(err)
	caPEM, err := os.ReadFile(*caFile)
	check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	check(err)
	cfg.Signing.SetRemoteCAs(pool)
	cfg.Signing.Default.ClientCert = &pair
	rs, err := remote.NewSigner(cfg.Signing)
	check(err)

	lat := make([]time.Duration, *n)
	sem := make(chan struct{}, *par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for i := range csrs {
		sem <- struct{}{}
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			req := cfsigner.SignRequest{Request: csrs[i], Profile: "client"}
			if *stamp {
				check(signer.Freshen(&req, time.Now()))
			}
			t := time.Now()
			_, err := rs.Sign(req)
			lat[i] = time.Since(t)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}(i)
	}
	wg.Wait()
	check(firstErr)
	f, err := os.Create(*out)
	check(err)
	for _, d := range lat {
		fmt.Fprintln(f, d.Microseconds())
	}
	check(f.Close())
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "signerload:", err)
		os.Exit(1)
	}
}
