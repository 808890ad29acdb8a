// Command csrgen makes N ECDSA P-256 PKCS#10 requests, device-NNNNN.csr,
// as N devices would, for the side-by-side signing benchmark in
// examples/bench/sign.sh. The keys are thrown away.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	n := flag.Int("n", 1000, "how many requests")
	dir := flag.String("dir", ".", "where to write them")
	flag.Parse()
	for i := range *n {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		check(err)
		cn := fmt.Sprintf("device-%05d", i)
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
		check(err)
		check(os.WriteFile(filepath.Join(*dir, cn+".csr"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644))
	}
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "csrgen:", err)
		os.Exit(1)
	}
}
