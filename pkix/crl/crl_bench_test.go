package crl

import (
	"bufio"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
)

// writeSerialFile writes n random 20-byte serials (top bit clear, as cfssl
// issues them) in hex, one per line.
func writeSerialFile(b *testing.B, path string, n int) {
	b.Helper()
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	r := mrand.New(mrand.NewPCG(uint64(n), 42))
	buf := make([]byte, 20)
	for range n {
		for i := range buf {
			buf[i] = byte(r.UintN(256))
		}
		buf[0] &= 0x7f
		buf[0] |= 0x01
		fmt.Fprintf(w, "%X\n", buf)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
}

// BenchmarkCRLBuild measures what `mtlsctl crl build` does for a serial
// file: stream-parse it, encode, collapse duplicates, sign, and write the
// CRL atomically. B/op is the whole allocation per CRL.
func BenchmarkCRLBuild(b *testing.B) {
	ca := testpki.NewCA(b, "ecdsa-256")
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("serials=%d", n), func(b *testing.B) {
			dir := b.TempDir()
			serials := filepath.Join(dir, "serials.txt")
			writeSerialFile(b, serials, n)
			info, _ := os.Stat(serials)
			b.ReportAllocs()
			b.ResetTimer()
			var size int
			for b.Loop() {
				f, err := os.Open(serials)
				if err != nil {
					b.Fatal(err)
				}
				now := time.Now()
				builder := NewCRLBuilder(int(info.Size()), now)
				if err := ReadSerials(f, "serials.txt", false, now, builder); err != nil {
					b.Fatal(err)
				}
				f.Close()
				crl, err := builder.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: NextCRLNumber(nil, now), ThisUpdate: now, NextUpdate: now.Add(7 * 24 * time.Hour)})
				if err != nil {
					b.Fatal(err)
				}
				out := filepath.Join(dir, "ca.crl")
				if _, err := atomicfile.WriteFiles([]atomicfile.File{{Path: out, Stream: func(w io.Writer) error { _, err := crl.WriteTo(w); return err }, Size: crl.Size, Mode: atomicfile.ModePublic, Replace: true}}, false); err != nil {
					b.Fatal(err)
				}
				size = crl.Size
			}
			b.ReportMetric(float64(size), "crl-bytes")
		})
	}
}

// BenchmarkReadCRL measures the one CRL reader (what crl show and serve
// load, and what the Worker builder streams) against crypto/x509's parser
// on the same DER, which crl show and serve used before.
func BenchmarkReadCRL(b *testing.B) {
	ca := testpki.NewCA(b, "ecdsa-256")
	for _, n := range []int{1_000, 100_000, 1_000_000} {
		dir := b.TempDir()
		serials := filepath.Join(dir, "serials.txt")
		writeSerialFile(b, serials, n)
		f, _ := os.Open(serials)
		now := time.Now()
		builder := NewCRLBuilder(0, now)
		if err := ReadSerials(f, "serials.txt", false, now, builder); err != nil {
			b.Fatal(err)
		}
		f.Close()
		crl, err := builder.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: NextCRLNumber(nil, now), ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
		if err != nil {
			b.Fatal(err)
		}
		der := crl.Bytes()
		b.Run(fmt.Sprintf("ReadCRL/entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rl, err := ReadCRL("ca.crl", der)
				if err != nil || rl.Count != n || rl.VerifyBy(ca.Cert, "ca.pem") != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("ScanCRL/entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rl, err := ScanCRL("ca.crl", der, func(RevokedEntry) {})
				if err != nil || rl.Count != n || rl.VerifyBy(ca.Cert, "ca.pem") != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("crypto-x509/entries=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rl, err := x509.ParseRevocationList(der)
				if err != nil || len(rl.RevokedCertificateEntries) != n || rl.CheckSignatureFrom(ca.Cert) != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanCRLManyExtensions: a hostile CRL, 200 entries of 3,000
// distinct extensions each. Finding duplicates must stay linear: a list
// scan per extension would make it quadratic.
func BenchmarkScanCRLManyExtensions(b *testing.B) {
	ca := testpki.NewCA(b, "ecdsa-256")
	now := time.Now()
	var entries []x509.RevocationListEntry
	for i := range 200 {
		exts := make([]pkix.Extension, 3000)
		for j := range exts {
			exts[j] = pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 9999, j + 1}, Value: []byte{5, 0}}
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: big.NewInt(int64(i + 1)), RevocationTime: now, ExtraExtensions: exts})
	}
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedCertificateEntries: entries}, ca.Cert, ca.Key)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if rl, err := ScanCRL("hostile.crl", der, nil); err != nil || rl.Count != 200 {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(der)), "crl-bytes")
}
