package commands

import (
	"crypto"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cloudflare/cfssl/config"
	"github.com/cloudflare/cfssl/csr"
	"github.com/cloudflare/cfssl/signer"
	"github.com/cloudflare/cfssl/signer/local"
	"github.com/mtlsctl/mtlsctl/pkix/cfsslconf"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// fleetDir makes a fresh PKI directory with a CA of the given key type and
// a CN file of n names. Fresh every time: deleting thousands of files just
// before a measurement slows the next one on these disks.
func fleetDir(b *testing.B, keyType string, n int) string {
	b.Helper()
	dir := b.TempDir()
	if code := Run([]string{"mtlsctl", "ca", "init", "--dir", dir, "--key-type", keyType}, nil, io.Discard, io.Discard); code != 0 {
		b.Fatalf("ca init: exit %d", code)
	}
	var names strings.Builder
	for i := range n {
		fmt.Fprintf(&names, "device-%05d\n", i)
	}
	if err := os.WriteFile(filepath.Join(dir, "devices.txt"), []byte(names.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return dir
}

// fleetCases are the batches both fleet benchmarks measure: a fleet of
// 1,000 ECDSA certificates, and a few RSA-4096 ones for core scaling.
var fleetCases = []struct {
	keyType string
	n       int
}{{"ecdsa-256", 1000}, {"rsa-4096", 8}}

// BenchmarkFleetIssue is `mtlsctl client issue --cn-file` as a user runs it:
// checks, keys, CSRs and signatures on all cores, every file durable, the
// inventory written under its lock. ns/op is for the whole batch.
func BenchmarkFleetIssue(b *testing.B) {
	for _, tc := range fleetCases {
		b.Run(fmt.Sprintf("%s/n=%d", tc.keyType, tc.n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := fleetDir(b, tc.keyType, tc.n)
				b.StartTimer()
				code := Run([]string{"mtlsctl", "client", "issue", "--dir", dir, "--cn-file", filepath.Join(dir, "devices.txt"), "--key-type", tc.keyType},
					nil, io.Discard, io.Discard)
				if code != 0 {
					b.Fatalf("client issue: exit %d", code)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tc.n), "µs/cert")
		})
	}
}

// BenchmarkFleetFloor is the floor to compare with: cfssl's own key
// generation, CSR and signing in one process on GOMAXPROCS workers, plus
// plainly writing the same three files (no fsync, no checks, no inventory).
// With -cpu 1 it is also the one-at-a-time rate for the scaling figure.
func BenchmarkFleetFloor(b *testing.B) {
	for _, tc := range fleetCases {
		b.Run(fmt.Sprintf("%s/n=%d", tc.keyType, tc.n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := fleetDir(b, tc.keyType, 0)
				caCert, _ := os.ReadFile(filepath.Join(dir, "ca.pem"))
				caKey, _ := os.ReadFile(filepath.Join(dir, "ca-key.pem"))
				cert, _ := pemutil.ParseCertificatePEM("ca.pem", caCert)
				key, _ := pemutil.ParseKeyPEM("ca-key.pem", caKey)
				cfg, err := config.LoadConfig([]byte(cfsslconf.DefaultConfigJSON))
				if err != nil {
					b.Fatal(err)
				}
				s, err := local.NewSigner(key, cert, signer.DefaultSigAlgo(key), cfg.Signing)
				if err != nil {
					b.Fatal(err)
				}
				kr, _ := cfsslconf.ParseKeyType(tc.keyType)
				b.StartTimer()
				var next atomic.Int64
				var wg sync.WaitGroup
				for range runtime.GOMAXPROCS(0) {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for {
							i := int(next.Add(1) - 1)
							if i >= tc.n {
								return
							}
							req := &csr.CertificateRequest{CN: fmt.Sprintf("device-%05d", i), KeyRequest: kr}
							priv, err := kr.Generate()
							if err != nil {
								b.Error(err)
								return
							}
							csrPEM, err := csr.Generate(priv.(crypto.Signer), req)
							if err != nil {
								b.Error(err)
								return
							}
							certPEM, err := s.Sign(signer.SignRequest{Request: string(csrPEM), Profile: "client"})
							if err != nil {
								b.Error(err)
								return
							}
							keyPEM, _ := pemutil.MarshalKeyPEM(priv.(crypto.Signer))
							base := filepath.Join(dir, req.CN)
							os.WriteFile(base+".pem", certPEM, 0o644)
							os.WriteFile(base+"-key.pem", keyPEM, 0o600)
							os.WriteFile(base+".csr", csrPEM, 0o644)
						}
					}()
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*tc.n), "µs/cert")
		})
	}
}

// writeRequests makes n ECDSA P-256 device requests (device-NNNNN.csr) in
// a requests/ directory beside the PKI directory: the devices' side,
// outside the timing.
func writeRequests(b *testing.B, dir string, n int) []string {
	b.Helper()
	reqDir := filepath.Join(dir, "requests")
	os.MkdirAll(reqDir, 0o755)
	kr, _ := cfsslconf.ParseKeyType("ecdsa-256")
	files := make([]string, n)
	for i := range n {
		priv, err := kr.Generate()
		if err != nil {
			b.Fatal(err)
		}
		csrPEM, err := csr.Generate(priv.(crypto.Signer), &csr.CertificateRequest{CN: fmt.Sprintf("device-%05d", i)})
		if err != nil {
			b.Fatal(err)
		}
		files[i] = filepath.Join(reqDir, fmt.Sprintf("device-%05d.csr", i))
		if err := os.WriteFile(files[i], csrPEM, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return files
}

// BenchmarkFleetSign is `mtlsctl client sign` of 1,000 ECDSA P-256
// requests made on the devices: every request checked, signed on all
// cores, durable, recorded. ns/op is for the whole batch.
func BenchmarkFleetSign(b *testing.B) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		dir := fleetDir(b, "ecdsa-256", 0)
		files := writeRequests(b, dir, n)
		b.StartTimer()
		if code := Run(append([]string{"mtlsctl", "client", "sign", "--dir", dir}, files...), nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("client sign: exit %d", code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/cert")
}

// BenchmarkFleetRenew is `mtlsctl client renew --expiring` of 1,000 ECDSA
// P-256 certificates (new keys), to compare with BenchmarkFleetIssue's
// 1,000: the renewal also reads the inventory and each old certificate,
// keeps every old file as a backup and supersedes every old record.
func BenchmarkFleetRenew(b *testing.B) {
	const n = 1000
	for b.Loop() {
		b.StopTimer()
		dir := fleetDir(b, "ecdsa-256", n)
		if code := Run([]string{"mtlsctl", "client", "issue", "--dir", dir, "--cn-file", filepath.Join(dir, "devices.txt"), "--key-type", "ecdsa-256", "--expiry", "30d"}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("client issue: exit %d", code)
		}
		b.StartTimer()
		// Due within 60d; renewed for 365d (a window past the lifetime is refused).
		if code := Run([]string{"mtlsctl", "client", "renew", "--dir", dir, "--expiring", "60d"}, nil, io.Discard, io.Discard); code != 0 {
			b.Fatalf("client renew: exit %d", code)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/cert")
}
