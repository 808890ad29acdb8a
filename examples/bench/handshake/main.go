// Command handshake measures mTLS handshakes per second against a server:
// each request opens a new TLS connection (no keep-alive) presenting a
// client certificate. Used by examples/bench/serve.sh to compare
// `mtlsctl serve` with nginx on the same machine, with the same client.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "https URL to request")
	cert := flag.String("cert", "client.pem", "client certificate")
	key := flag.String("key", "client-key.pem", "client key")
	workers := flag.Int("c", 8, "concurrent clients")
	dur := flag.Duration("d", 5*time.Second, "how long to run")
	want := flag.Int("status", 200, "expected HTTP status")
	flag.Parse()
	pair, err := tls.LoadX509KeyPair(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "handshake:", err)
		os.Exit(2)
	}
	var ok, bad atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	start := time.Now()
	for range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				DisableKeepAlives: true,
				TLSClientConfig:   &tls.Config{Certificates: []tls.Certificate{pair}, InsecureSkipVerify: true},
			}}
			for time.Now().Before(deadline) {
				res, err := c.Get(*url)
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != *want {
					bad.Add(1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("%.0f handshakes/s (%d ok, %d failed, %d clients, %.1f s)\n", float64(ok.Load())/secs, ok.Load(), bad.Load(), *workers, secs)
	if bad.Load() > 0 {
		os.Exit(1)
	}
}
