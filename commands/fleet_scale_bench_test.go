package commands

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// Fleet-scale costs as a user pays them: one mtlsctl process per
// operation (start-up included), in a directory whose inventory holds 0,
// 20,000 or 100,000 records. Reported: time per operation and the
// process's peak resident memory (peak-MB).
//
//	go test -run '^$' -bench 'Inventory|CRLCrossCheck' -benchtime 20x ./commands/

func BenchmarkInventoryIssue(b *testing.B) {
	for _, n := range []int{0, 20_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			dir := benchDir(b, n)
			b.ResetTimer()
			var peak int64
			for i := range b.N {
				peak = max(peak, runPeak(b, dir, "client", "issue", "--cn", fmt.Sprintf("bench-%d", i), "--name", fmt.Sprintf("bench-%d", i), "--key-type", "ecdsa-256"))
			}
			b.ReportMetric(float64(peak)/1024, "peak-MB")
		})
	}
}

func BenchmarkInventoryRevoke(b *testing.B) {
	for _, n := range []int{0, 20_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			dir := benchDir(b, n)
			// Real certificates to revoke, one per iteration.
			names := make([]string, b.N)
			args := []string{"client", "issue", "--key-type", "ecdsa-256"}
			for i := range b.N {
				names[i] = fmt.Sprintf("target-%d", i)
				args = append(args, "--cn", names[i])
			}
			runPeak(b, dir, args...)
			b.ResetTimer()
			var peak int64
			for i := range b.N {
				peak = max(peak, runPeak(b, dir, "client", "revoke", names[i]))
			}
			b.ReportMetric(float64(peak)/1024, "peak-MB")
		})
	}
}

// BenchmarkCRLCrossCheck: crl build of 1M serials with no inventory, the
// inventory ca init makes, and a 100,000-record one.
func BenchmarkCRLCrossCheck(b *testing.B) {
	serials := filepath.Join(b.TempDir(), "serials.txt")
	writeSerials(b, serials, 1_000_000)
	for _, tc := range []struct {
		name    string
		records int
		noInv   bool
	}{{"inventory=none", 0, true}, {"inventory=ca-init", 0, false}, {"inventory=100k", 100_000, false}} {
		b.Run(tc.name, func(b *testing.B) {
			dir := benchDir(b, tc.records)
			if tc.noInv {
				os.Remove(filepath.Join(dir, "inventory.tsv"))
			}
			b.ResetTimer()
			var peak int64
			for i := range b.N {
				// a fresh output each time: no previous CRL to compare
				peak = max(peak, runPeak(b, dir, "crl", "build", "--out", fmt.Sprintf("out-%d.crl", i), serials))
				b.StopTimer()
				os.Remove(filepath.Join(dir, fmt.Sprintf("out-%d.crl", i)))
				b.StartTimer()
			}
			b.ReportMetric(float64(peak)/1024, "peak-MB")
		})
	}
}

// benchDir is a directory with a root (ECDSA) and n synthetic client
// records: the inventory is what costs, not the certificates behind it.
func benchDir(b *testing.B, n int) string {
	b.Helper()
	dir := b.TempDir()
	runPeak(b, dir, "ca", "init", "--key-type", "ecdsa-256")
	f, err := os.OpenFile(filepath.Join(dir, "inventory.tsv"), os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	now := time.Now().UTC().Truncate(time.Second)
	var line []byte
	for i := range n {
		serial := make([]byte, 20)
		rand.Read(serial)
		serial[0] &= 0x7f
		sum := make([]byte, 32)
		rand.Read(sum)
		r := inventory.Record{Serial: strings.ToUpper(hex.EncodeToString(serial)), Status: inventory.StatusValid, Kind: inventory.KindClient,
			CN: fmt.Sprintf("device-%d", i), NotBefore: now, NotAfter: now.Add(365 * 24 * time.Hour), Profile: "client", Issuer: "ca",
			SHA256: hex.EncodeToString(sum), Name: fmt.Sprintf("device-%d", i), Subject: fmt.Sprintf("CN=device-%d,O=Access", i), PublicKeySHA: hex.EncodeToString(sum)}
		line = inventory.AppendInventoryLine(line[:0], &r)
		w.Write(line)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return dir
}

func writeSerials(b *testing.B, path string, n int) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	buf := make([]byte, 16)
	for range n {
		rand.Read(buf)
		buf[0] = buf[0]&0x7f | 0x10
		fmt.Fprintf(w, "%X\n", buf)
	}
	w.Flush()
	f.Close()
}

// runPeak runs mtlsctl and returns its peak resident memory in KiB. The
// child reports its own VmHWM: rusage's maxrss would also count this test
// process, whose high-water mark a vfork+exec child inherits on Linux.
func runPeak(b *testing.B, dir string, args ...string) int64 {
	b.Helper()
	peakFile := filepath.Join(b.TempDir(), "peak")
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MTLSCTL_AS_MAIN=1", "NO_COLOR=1", "MTLSCTL_PEAK_FILE="+peakFile)
	// stdout is discarded (crl show of a million entries prints one line
	// each);
	// stderr is kept for the failure message.
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Run(); err != nil {
		b.Fatalf("mtlsctl %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	data, err := os.ReadFile(peakFile)
	if err != nil {
		b.Fatal(err)
	}
	kib, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return kib
}

// reportPeak writes this process's VmHWM (KiB) to path, if path is set.
func reportPeak(path string) {
	if path == "" {
		return
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			os.WriteFile(path, []byte(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))), 0o644)
		}
	}
}

// BenchmarkWorkerBuild: worker build of 1,000,000 revoked serials (the KV
// data file) beside crl build of the same list, real binary, one process
// per operation.
func BenchmarkWorkerBuild(b *testing.B) {
	dir, serials := millionRevoked(b)
	runCases(b, dir, []benchCase{
		{"crl-build", []string{"crl", "build", serials}},
		{"worker-build", []string{"worker", "build", "--hostname", "auth.example.com"}},
	})
}

// BenchmarkCRLRead: the commands that read a 1,000,000-entry CRL, real
// binary, output discarded: crl show (text and --json) and check --crl.
func BenchmarkCRLRead(b *testing.B) {
	dir, serials := millionRevoked(b)
	runCases(b, dir, []benchCase{
		{"crl-show", []string{"crl", "show"}},
		{"crl-show-json", []string{"crl", "show", "--json"}},
		{"check", []string{"check", "--crl", "ca.crl"}},
		{"crl-build-over-it", []string{"crl", "build", serials}},
	})
}

// millionRevoked is a directory whose ca.crl revokes the 1,000,000 serials
// listed in the file it also returns.
func millionRevoked(b *testing.B) (dir, serials string) {
	dir = benchDir(b, 0)
	serials = filepath.Join(dir, "serials.txt")
	writeSerials(b, serials, 1_000_000)
	runPeak(b, dir, "crl", "build", serials)
	return dir, serials
}

// benchCase is one command line, run as the sub-benchmark name.
type benchCase struct {
	name string
	args []string
}

// runCases runs each case b.N times in dir and reports its largest peak.
func runCases(b *testing.B, dir string, cases []benchCase) {
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var peak int64
			for range b.N {
				peak = max(peak, runPeak(b, dir, tc.args...))
			}
			b.ReportMetric(float64(peak)/1024, "peak-MB")
		})
	}
}
