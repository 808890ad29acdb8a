package crl

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/internal/testpki"
	"github.com/mtlsctl/mtlsctl/pkix/interoptest"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// buildBoth makes one CRL with our builder and one with
// x509.CreateRevocationList from the same inputs.
func buildBoth(t *testing.T, ca *testpki.CA, serials []*big.Int, reasons []RevocationReason, dates []time.Time, now time.Time, number *big.Int) (ours, std []byte) {
	t.Helper()
	b := NewCRLBuilder(0, now)
	var entries []x509.RevocationListEntry
	for i, s := range serials {
		b.Add(s.Bytes(), reasons[i], dates[i], i+1)
		d := dates[i]
		if d.IsZero() {
			d = now
		}
		entries = append(entries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: d, ReasonCode: int(reasons[i])})
	}
	next := now.Add(7 * 24 * time.Hour)
	crl, err := b.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: number, ThisUpdate: now, NextUpdate: next})
	if err != nil {
		t.Fatal(err)
	}
	ours = crl.Bytes()
	if len(ours) != crl.Size {
		t.Fatalf("Size %d, bytes %d", crl.Size, len(ours))
	}
	std, err = x509.CreateRevocationList(nil, &x509.RevocationList{
		SignatureAlgorithm: ca.Cert.SignatureAlgorithm, RevokedCertificateEntries: entries,
		Number: number, ThisUpdate: now, NextUpdate: next,
	}, ca.Cert, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return ours, std
}

func randomSerials(r *mrand.Rand, n int) ([]*big.Int, []RevocationReason, []time.Time) {
	reasonsAll := []RevocationReason{0, 1, 2, 3, 4, 5, 6, 9, 10}
	var serials []*big.Int
	var reasons []RevocationReason
	var dates []time.Time
	seen := map[string]bool{}
	for len(serials) < n {
		size := 1 + r.IntN(20)
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(r.UintN(256))
		}
		s := new(big.Int).SetBytes(buf)
		if s.Sign() == 0 || seen[s.String()] {
			continue
		}
		seen[s.String()] = true
		serials = append(serials, s)
		reasons = append(reasons, reasonsAll[r.IntN(len(reasonsAll))])
		var d time.Time
		switch r.IntN(3) {
		case 1:
			d = time.Date(2020+r.IntN(6), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), 0, time.UTC)
		case 2:
			d = time.Date(2051, 1, 2, 3, 4, 5, 0, time.UTC) // GeneralizedTime
		}
		dates = append(dates, d)
	}
	return serials, reasons, dates
}

// With an RSA CA, PKCS#1 v1.5 signatures are deterministic, so equal inputs
// must give byte-identical CRLs: the strongest differential check there is.
func TestCRLByteIdenticalToStandardLibraryRSA(t *testing.T) {
	ca := testpki.NewCA(t, "rsa-2048")
	r := mrand.New(mrand.NewPCG(1, 2))
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 2, 7, 300} {
		serials, reasons, dates := randomSerials(r, n)
		ours, std := buildBoth(t, ca, serials, reasons, dates, now, big.NewInt(int64(1000+n)))
		if !bytes.Equal(ours, std) {
			t.Fatalf("n=%d: our CRL (%d bytes) differs from crypto/x509's (%d bytes)", n, len(ours), len(std))
		}
	}
}

// With ECDSA the signatures differ, so compare every parsed field.
func TestCRLFieldsMatchStandardLibraryECDSA(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-384")
	r := mrand.New(mrand.NewPCG(3, 4))
	now := time.Now().UTC().Truncate(time.Second)
	serials, reasons, dates := randomSerials(r, 500)
	number := new(big.Int).Lsh(big.NewInt(1), 150)
	ours, std := buildBoth(t, ca, serials, reasons, dates, now, number)
	a, err := x509.ParseRevocationList(ours)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x509.ParseRevocationList(std)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CheckSignatureFrom(ca.Cert); err != nil {
		t.Fatalf("our signature: %v", err)
	}
	if !bytes.Equal(a.RawTBSRevocationList, b.RawTBSRevocationList) {
		t.Error("to-be-signed bytes differ")
	}
	if a.SignatureAlgorithm != x509.ECDSAWithSHA384 || a.Number.Cmp(number) != 0 || !a.ThisUpdate.Equal(b.ThisUpdate) ||
		!a.NextUpdate.Equal(b.NextUpdate) || !bytes.Equal(a.AuthorityKeyId, ca.Cert.SubjectKeyId) || !bytes.Equal(a.RawIssuer, b.RawIssuer) {
		t.Errorf("header fields differ: %v %v %v/%v %v/%v", a.SignatureAlgorithm, a.Number, a.ThisUpdate, b.ThisUpdate, a.NextUpdate, b.NextUpdate)
	}
	if len(a.RevokedCertificateEntries) != len(b.RevokedCertificateEntries) {
		t.Fatalf("%d entries vs %d", len(a.RevokedCertificateEntries), len(b.RevokedCertificateEntries))
	}
	for i := range a.RevokedCertificateEntries {
		x, y := a.RevokedCertificateEntries[i], b.RevokedCertificateEntries[i]
		if x.SerialNumber.Cmp(y.SerialNumber) != 0 || !x.RevocationTime.Equal(y.RevocationTime) || x.ReasonCode != y.ReasonCode {
			t.Fatalf("entry %d: %x %v %d vs %x %v %d", i, x.SerialNumber, x.RevocationTime, x.ReasonCode, y.SerialNumber, y.RevocationTime, y.ReasonCode)
		}
	}
}

func TestCRLCollapsesDuplicates(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	now := time.Now()
	b := NewCRLBuilder(0, now)
	for i, s := range []int64{7, 8, 7, 0x80, 7, 8} {
		b.Add(big.NewInt(s).Bytes(), 0, time.Time{}, i+1)
	}
	crl, err := b.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	rl, err := x509.ParseRevocationList(crl.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range rl.RevokedCertificateEntries {
		got = append(got, x509text.SerialHex(e.SerialNumber))
	}
	if strings.Join(got, ",") != "07,08,80" {
		t.Errorf("entries %v, want 07,08,80 in first-seen order", got)
	}
	if len(crl.Duplicates) != 3 || crl.Duplicates[0].Line != 3 || crl.Duplicates[0].FirstLine != 1 ||
		crl.Duplicates[2].Line != 6 || crl.Duplicates[2].FirstLine != 2 {
		t.Errorf("duplicates %+v", crl.Duplicates)
	}
}

func TestReadCRLHeader(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	now := time.Now()
	b := NewCRLBuilder(0, now)
	b.Add([]byte{1}, 1, time.Time{}, 1)
	number := big.NewInt(123456789)
	crl, err := b.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: number, ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	var pemBuf bytes.Buffer
	if err := crl.WritePEMTo(&pemBuf); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"der": crl.Bytes(), "pem": pemBuf.Bytes()} {
		h, err := ReadCRLHeader(name, data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if h.Number.Cmp(number) != 0 || !bytes.Equal(h.IssuerRaw, ca.Cert.RawSubject) {
			t.Errorf("%s: number %v issuer match %v", name, h.Number, bytes.Equal(h.IssuerRaw, ca.Cert.RawSubject))
		}
		if _, err := ReadCRL(name, data); err != nil {
			t.Errorf("%s: ReadCRL: %v", name, err)
		}
	}
	if _, err := ReadCRLHeader("x", []byte("hello")); err == nil {
		t.Error("garbage accepted")
	}
}

func TestNextCRLNumberNeverGoesBack(t *testing.T) {
	now := time.UnixMilli(5000)
	if n := NextCRLNumber(nil, now); n.Int64() != 5000 {
		t.Errorf("fresh: %v", n)
	}
	if n := NextCRLNumber(big.NewInt(9000), now); n.Int64() != 9001 {
		t.Errorf("after a later number: %v", n)
	}
	if n := NextCRLNumber(big.NewInt(10), now); n.Int64() != 5000 {
		t.Errorf("after an old number: %v", n)
	}
}

type countingReaderAt struct {
	r *bytes.Reader
	n int
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += n
	return n, err
}

// Consulting the previous CRL for its number must not read its entries.
func TestReadCRLHeaderAtSkipsEntries(t *testing.T) {
	ca := testpki.NewCA(t, "ecdsa-256")
	now := time.Now()
	b := NewCRLBuilder(0, now)
	for i := 1; i <= 50_000; i++ {
		b.Add(big.NewInt(int64(i)).Bytes(), 0, time.Time{}, i)
	}
	crl, err := b.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: big.NewInt(77), ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	der := crl.Bytes()
	r := &countingReaderAt{r: bytes.NewReader(der)}
	h, err := ReadCRLHeaderAt("ca.crl", r)
	if err != nil {
		t.Fatal(err)
	}
	if h.Number.Int64() != 77 || !h.IssuedBy(ca.Cert) {
		t.Errorf("number %v, issued by CA %v", h.Number, h.IssuedBy(ca.Cert))
	}
	if r.n > 4096 {
		t.Errorf("read %d of %d bytes to find the header", r.n, len(der))
	}
	other := testpki.NewCA(t, "ecdsa-256") // same subject, other key
	if h.IssuedBy(other.Cert) {
		t.Error("a CA with the same subject but another key counts as the issuer")
	}
	for cut := 1; cut < 200; cut += 7 { // truncated files are errors, not panics
		if _, err := ReadCRLHeaderAt("ca.crl", bytes.NewReader(der[:cut])); err == nil {
			t.Errorf("truncated at %d accepted", cut)
		}
	}
}

// Our header reader walks the DER by hand to skip the entries, and
// EachRevokedEntry streams them; both must read what crypto/x509 reads.
// Left out: a TBSCertList with bytes after the fields RFC 5280 defines
// (crypto/x509 stops reading before them; we refuse them, or read them),
// and inputs over 64 KiB, where our bounded reads (issuer, extensions, an
// entry) may refuse what crypto/x509 reads. Where only ours parses is fine:
// it is lenient (a v1 CRL, no signature checks).
func FuzzReadCRLHeader(f *testing.F) {
	ca := testpki.NewCA(f, "ecdsa-256")
	now := time.Unix(1700000000, 0)
	for _, serials := range [][]byte{nil, {1}, {1, 0x80, 0x7f}} {
		b := NewCRLBuilder(0, now)
		for i, s := range serials {
			b.Add([]byte{s}, RevocationReason(i), time.Time{}, i+1)
		}
		crl, err := b.Sign(CRLParams{Issuer: ca.Cert, Key: ca.Key, Number: big.NewInt(int64(len(serials)) << 40), ThisUpdate: now, NextUpdate: now.Add(time.Hour)})
		if err != nil {
			f.Fatal(err)
		}
		var pemBuf bytes.Buffer
		if err := crl.WritePEMTo(&pemBuf); err != nil {
			f.Fatal(err)
		}
		f.Add(crl.Bytes())
		f.Add(pemBuf.Bytes())
	}
	f.Add([]byte{0x30, 0x03, 0x30, 0x01, 0x00})
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ReadCRLHeader("f", data)
		full, fullErr := ReadCRL("f", data)
		der, derErr := crlDER("f", data)
		if derErr != nil {
			return
		}
		rl, stdErr := x509.ParseRevocationList(der) // crypto/x509 on the same DER
		// crypto/x509 also skips data after an extension's value or after
		// the list of CRL extensions, which OpenSSL refuses and so do the
		// readers: such files are not compared.
		if stdErr != nil || len(data) > 64*1024 || !onlyTBSFields(rl.RawTBSRevocationList) || !extensionsStrict(rl) {
			return
		}
		if err != nil {
			t.Fatalf("crypto/x509 reads the CRL, the header reader does not: %v", err)
		}
		// crypto/x509 takes a version 3 CRL and a version 1 CRL with
		// extensions, which RFC 5280 does not define and ReadCRL refuses;
		// otherwise both must read the same files.
		// So does data after the signature, which crypto/x509 skips and
		// OpenSSL refuses.
		if fullErr != nil && tbsVersion(rl.RawTBSRevocationList) == 1 && threeElements(der) {
			t.Fatalf("crypto/x509 reads the CRL, ReadCRL does not: %v", fullErr)
		}
		if !bytes.Equal(h.IssuerRaw, rl.RawIssuer) {
			t.Errorf("issuer %x, crypto/x509 %x", h.IssuerRaw, rl.RawIssuer)
		}
		if !h.ThisUpdate.Equal(rl.ThisUpdate) {
			t.Errorf("thisUpdate %v, crypto/x509 %v", h.ThisUpdate, rl.ThisUpdate)
		}
		if !h.NextUpdate.Equal(rl.NextUpdate) { // both zero when absent
			t.Errorf("nextUpdate %v, crypto/x509 %v", h.NextUpdate, rl.NextUpdate)
		}
		if (h.Number == nil) != (rl.Number == nil) || (h.Number != nil && h.Number.Cmp(rl.Number) != 0) {
			t.Errorf("number %v, crypto/x509 %v", h.Number, rl.Number)
		}
		if (h.AuthKeyID == nil) != (rl.AuthorityKeyId == nil) || !bytes.Equal(h.AuthKeyID, rl.AuthorityKeyId) {
			t.Errorf("authority key id %x, crypto/x509 %x", h.AuthKeyID, rl.AuthorityKeyId)
		}
		// The entries: serials as magnitudes (a negative serial, which RFC
		// 5280 forbids, has none to compare), reasons and dates.
		var got, want []string
		if err := h.EachRevokedEntry(bytes.NewReader(der), func(e RevokedEntry) {
			at, _ := parseCRLTime(e.RawTime)
			got = append(got, fmt.Sprintf("%x/%d/%d", e.Serial, e.Reason, at.Unix()))
		}); err != nil {
			t.Fatalf("EachRevokedEntry: %v", err)
		}
		for _, e := range rl.RevokedCertificateEntries {
			if e.SerialNumber.Sign() < 0 {
				return
			}
			want = append(want, fmt.Sprintf("%x/%d/%d", e.SerialNumber.Bytes(), e.ReasonCode, e.RevocationTime.Unix()))
		}
		if !slices.Equal(got, want) {
			t.Errorf("serials %v, crypto/x509 %v", got, want)
		}
		if fullErr == nil {
			var read []string
			for _, e := range full.Entries {
				read = append(read, fmt.Sprintf("%x/%d/%d", e.Serial.Bytes(), e.Reason, e.Date.Unix()))
			}
			if !slices.Equal(read, want) {
				t.Errorf("ReadCRL entries %v, crypto/x509 %v", read, want)
			}
		}
	})
}

// extensionsStrict reports whether every extension of the CRL and its
// entries is exactly OID, optional BOOLEAN, OCTET STRING, and the CRL's
// [0] holds one SEQUENCE and nothing after it.
func extensionsStrict(rl *x509.RevocationList) bool {
	strict := func(exts cryptobyte.String) bool {
		for !exts.Empty() {
			var ext cryptobyte.String
			if !exts.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
				!ext.SkipOptionalASN1(cbasn1.BOOLEAN) || !ext.SkipASN1(cbasn1.OCTET_STRING) || !ext.Empty() {
				return false
			}
		}
		return true
	}
	in := cryptobyte.String(rl.RawTBSRevocationList)
	var tbs cryptobyte.String
	if !in.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return false
	}
	for !tbs.Empty() {
		var el cryptobyte.String
		var tag cbasn1.Tag
		if !tbs.ReadAnyASN1(&el, &tag) {
			return false
		}
		if tag == cbasn1.Tag(0).Constructed().ContextSpecific() {
			var seq cryptobyte.String
			if !el.ReadASN1(&seq, cbasn1.SEQUENCE) || !el.Empty() || !strict(seq) {
				return false
			}
		}
	}
	for _, e := range rl.RevokedCertificateEntries {
		entry := cryptobyte.String(e.Raw)
		var body, exts cryptobyte.String
		if !entry.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipASN1(cbasn1.INTEGER) || !body.ReadAnyASN1(new(cryptobyte.String), new(cbasn1.Tag)) {
			return false
		}
		if !body.Empty() && (!body.ReadASN1(&exts, cbasn1.SEQUENCE) || !body.Empty() || !strict(exts)) {
			return false
		}
	}
	return true
}

// tbsVersion is the version field of a TBSCertList (0 when absent).
func tbsVersion(raw []byte) int {
	in := cryptobyte.String(raw)
	var tbs cryptobyte.String
	v := 0
	if in.ReadASN1(&tbs, cbasn1.SEQUENCE) && tbs.PeekASN1Tag(cbasn1.INTEGER) {
		tbs.ReadASN1Integer(&v)
	}
	return v
}

// threeElements reports whether a CertificateList is its three elements
// and nothing else.
func threeElements(der []byte) bool {
	in := cryptobyte.String(der)
	var outer cryptobyte.String
	var bits asn1.BitString
	return in.ReadASN1(&outer, cbasn1.SEQUENCE) && len(bytes.TrimSpace(in)) == 0 && outer.SkipASN1(cbasn1.SEQUENCE) &&
		outer.SkipASN1(cbasn1.SEQUENCE) && outer.ReadASN1BitString(&bits) && outer.Empty()
}

// onlyTBSFields reports whether a TBSCertList holds RFC 5280's fields and
// nothing after them.
func onlyTBSFields(raw []byte) bool {
	in := cryptobyte.String(raw)
	var tbs cryptobyte.String
	if !in.ReadASN1(&tbs, cbasn1.SEQUENCE) || !tbs.SkipOptionalASN1(cbasn1.INTEGER) ||
		!tbs.SkipASN1(cbasn1.SEQUENCE) || !tbs.SkipASN1(cbasn1.SEQUENCE) {
		return false
	}
	for range 2 { // thisUpdate, and nextUpdate when present
		switch {
		case tbs.PeekASN1Tag(cbasn1.UTCTime):
			tbs.SkipASN1(cbasn1.UTCTime)
		case tbs.PeekASN1Tag(cbasn1.GeneralizedTime):
			tbs.SkipASN1(cbasn1.GeneralizedTime)
		}
	}
	return tbs.SkipOptionalASN1(cbasn1.SEQUENCE) && tbs.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) && tbs.Empty()
}

// OpenSSL, which nobody here wrote, must accept both CRLs of the
// differential test and verify their signatures.
func TestCRLAcceptedByOpenSSL(t *testing.T) {
	openssl := interoptest.Require(t, "openssl")
	dir := t.TempDir()
	for _, keyType := range []string{"ecdsa-256", "rsa-2048"} {
		ca := testpki.NewCA(t, keyType)
		caFile := filepath.Join(dir, keyType+"-ca.pem")
		if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o644); err != nil {
			t.Fatal(err)
		}
		serials, reasons, dates := randomSerials(mrand.New(mrand.NewPCG(5, 6)), 40)
		ours, std := buildBoth(t, ca, serials, reasons, dates, time.Now().UTC().Truncate(time.Second), big.NewInt(42))
		for name, der := range map[string][]byte{"ours": ours, "std": std} {
			f := filepath.Join(dir, keyType+"-"+name+".crl")
			if err := os.WriteFile(f, der, 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(openssl, "crl", "-inform", "DER", "-in", f, "-CAfile", caFile, "-noout", "-text").CombinedOutput()
			if err != nil || !strings.Contains(string(out), "verify OK") || strings.Count(string(out), "Serial Number:") != 40 {
				t.Errorf("%s %s: openssl: %v\n%.400s", keyType, name, err, out)
			}
		}
	}
}

// parseZuluTime agrees with cryptobyte on every input: the same time, or
// both refusing.
func FuzzParseZuluTime(f *testing.F) {
	for _, s := range []string{"\x17\x0d991231235959Z", "\x17\x0d500101000000Z", "\x18\x0f20491231235959Z", "\x17\x0d000431000000Z",
		"\x17\x0d991231235960Z", "\x18\x0f99991231235959Z", "\x17\x0d9912312359+9Z", "\x17\x11991231235959+0100"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		fast, okFast := parseZuluTime(raw)
		s := cryptobyte.String(raw)
		var slow time.Time
		okSlow := readASN1Time(&s, &slow) && s.Empty()
		if okFast && (!okSlow || !fast.Equal(slow)) {
			t.Errorf("%q: fast %v, cryptobyte %v %v", raw, fast, slow, okSlow)
		}
		if got, ok := parseCRLTime(raw); ok != okSlow || (ok && !got.Equal(slow)) {
			t.Errorf("%q: parseCRLTime %v %v, cryptobyte %v %v", raw, got, ok, slow, okSlow)
		}
	})
}
