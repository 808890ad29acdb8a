package crl

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// crlDER returns the DER of a CRL given as DER or PEM ("X509 CRL"). A PEM
// file must hold one CRL and nothing else that looks like PEM: a second
// CRL (which one counts?) or a damaged block is refused, not skipped.
func crlDER(file string, data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, pkix.Errorf(file, "file is empty")
	}
	if trimmed[0] == 0x30 && !bytes.Contains(trimmed, []byte("-----BEGIN X509 CRL-----")) {
		// DER; leading white space is not part of it, but a trailing
		// byte 0x20 or 0x0a may be. (A PEM file whose preamble text
		// starts with "0" holds a BEGIN line.)
		return bytes.TrimLeft(data, " \t\r\n"), nil
	}
	var der []byte
	rest := trimmed
	blocks := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		blocks++
		if block.Type != "X509 CRL" {
			continue
		}
		if der != nil {
			return nil, pkix.Errorf(file, "holds more than one CRL").WithHint("give each CRL in a file of its own")
		}
		if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") {
			return nil, pkix.Errorf(file, "the CRL's PEM block is encrypted (Proc-Type: ENCRYPTED)").WithHint("decrypt it first: CRLs are public")
		}
		der = block.Bytes
	}
	// pem.Decode skips a block it cannot decode and goes on to the next:
	// count the BEGIN lines to notice.
	if bytes.Contains(rest, []byte("-----BEGIN ")) || bytes.Count(trimmed, []byte("-----BEGIN ")) > blocks {
		return nil, pkix.Errorf(file, "a PEM block is truncated or damaged")
	}
	if der == nil {
		return nil, pkix.Errorf(file, "not a CRL: neither DER nor a PEM X509 CRL block")
	}
	return der, nil
}

// maxCRLElement bounds what is read into memory at once: an issuer, the
// extensions, one entry. Real ones are under a kilobyte; OpenSSL reads
// larger, so the bound is far above anything a CA writes.
const maxCRLElement = 16 << 20

// CRLHeader is what a new CRL needs from the previous one.
type CRLHeader struct {
	IssuerRaw  []byte
	AuthKeyID  []byte
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time // zero when the CRL has none
	// Extensions are the CRL's extensions, by OID and criticality, for a
	// consumer to refuse what it does not understand (RFC 5280 §5.2).
	Extensions []CRLExtension
	// revoked is where the list of revoked certificates' content lies in
	// the DER, for EachRevokedEntry; zero length when there is none.
	revokedOff, revokedLen int64
}

// ReadCRLHeader parses a CRL's issuer, number, authority key and this
// update from DER or PEM data.
func ReadCRLHeader(file string, data []byte) (*CRLHeader, error) {
	der, err := crlDER(file, data)
	if err != nil {
		return nil, err
	}
	return ReadCRLHeaderAt(file, bytes.NewReader(der))
}

// ReadCRLHeaderAt reads the header of a DER CRL by walking its outer
// structure and reading only the small elements it needs. The revoked list,
// which sits between the issuer and the extensions, is skipped by its
// length, so consulting a million-entry ca.crl reads a few kilobytes.
func ReadCRLHeaderAt(file string, r io.ReaderAt) (*CRLHeader, error) {
	bad := func(what string) error {
		return pkix.Errorf(file, "not a valid CRL (%s)", what).WithHint("'openssl crl -in FILE -noout -text' shows what it holds")
	}
	outer, err := readTLV(r, 0)
	if err != nil || outer.tag != 0x30 {
		return nil, bad("no CertificateList")
	}
	tbs, err := readTLV(r, outer.content())
	if err != nil || tbs.tag != 0x30 || tbs.end() > outer.end() {
		return nil, bad("no TBSCertList")
	}
	h := &CRLHeader{}
	var haveIssuer, haveThis bool
	sequences := 0 // the 1st is the signature algorithm, the 2nd the issuer, a 3rd the revoked list
	for p := tbs.content(); p < tbs.end(); {
		e, err := readTLV(r, p)
		if err != nil || e.end() > tbs.end() {
			return nil, bad("truncated")
		}
		p = e.end()
		switch {
		case e.tag == 0x30:
			sequences++
			switch sequences {
			case 2:
				if h.IssuerRaw, err = e.read(r, maxCRLElement); err != nil {
					return nil, bad("issuer")
				}
				haveIssuer = true
			case 3:
				h.revokedOff, h.revokedLen = e.content(), e.n
			}
		case (e.tag == 0x17 || e.tag == 0x18) && haveIssuer:
			raw, err := e.read(r, 64)
			if err != nil {
				return nil, bad("time")
			}
			s := cryptobyte.String(raw)
			if !haveThis {
				if !readASN1Time(&s, &h.ThisUpdate) {
					return nil, bad("thisUpdate")
				}
				haveThis = true
			} else if !readASN1Time(&s, &h.NextUpdate) {
				return nil, bad("nextUpdate")
			}
		case e.tag == 0xa0:
			raw, err := e.read(r, maxCRLElement)
			if err != nil {
				return nil, bad("extensions")
			}
			if err := h.parseExtensions(raw); err != nil {
				return nil, bad(err.Error())
			}
		}
	}
	if !haveIssuer || !haveThis {
		return nil, bad("no issuer or thisUpdate")
	}
	return h, nil
}

func (h *CRLHeader) parseExtensions(raw []byte) error {
	in := cryptobyte.String(raw)
	var exts, seq cryptobyte.String
	if !in.ReadASN1(&exts, cbasn1.Tag(0).Constructed().ContextSpecific()) || !exts.ReadASN1(&seq, cbasn1.SEQUENCE) || !exts.Empty() {
		return errors.New("malformed extensions")
	}
	for !seq.Empty() {
		oidDER, crit, value, ok := readExtension(&seq)
		var oid asn1.ObjectIdentifier
		if !ok || !oidOf(oidDER, &oid) {
			return errors.New("malformed extension")
		}
		h.Extensions = append(h.Extensions, CRLExtension{OID: oid, Critical: crit, Value: value})
		switch {
		case oid.Equal(oidCRLNumber):
			n := new(big.Int)
			if !value.ReadASN1Integer(n) {
				return errors.New("CRL number")
			}
			if h.Number == nil { // a second one is refused as a duplicate; the first is shown
				h.Number = n
			}
		case oid.Equal(oidAKI):
			var aki, id cryptobyte.String
			if !value.ReadASN1(&aki, cbasn1.SEQUENCE) {
				return errors.New("authority key identifier")
			}
			if aki.ReadASN1(&id, cbasn1.Tag(0).ContextSpecific()) && h.AuthKeyID == nil {
				h.AuthKeyID = id
			}
		}
	}
	return nil
}

// readExtension reads one Extension (RFC 5280 §4.1): the OID's DER
// content, whether it is critical, and the extnValue's content. Nothing
// may follow the extnValue (OpenSSL refuses that; crypto/x509 skips it,
// and with it whatever a second value says). A BOOLEAN TRUE written as
// any non-zero byte, as BER allows and OpenSSL reads, counts as critical:
// reading it as not critical would hide what must not be ignored.
func readExtension(seq *cryptobyte.String) (oid []byte, critical bool, value cryptobyte.String, ok bool) {
	var ext, oidDER cryptobyte.String
	if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1(&oidDER, cbasn1.OBJECT_IDENTIFIER) || len(oidDER) == 0 {
		return nil, false, nil, false
	}
	if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
		var b cryptobyte.String
		if !ext.ReadASN1(&b, cbasn1.BOOLEAN) || len(b) != 1 {
			return nil, false, nil, false
		}
		critical = b[0] != 0
	}
	if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) || !ext.Empty() {
		return nil, false, nil, false
	}
	return oidDER, critical, value, true
}

// oidOf decodes an OID's DER content.
func oidOf(der []byte, oid *asn1.ObjectIdentifier) bool {
	full := cryptobyte.NewBuilder(nil)
	full.AddASN1(cbasn1.OBJECT_IDENTIFIER, func(b *cryptobyte.Builder) { b.AddBytes(der) })
	in := cryptobyte.String(full.BytesOrPanic())
	return in.ReadASN1ObjectIdentifier(oid)
}

// tlv is one DER element located in a file: its tag, where it starts, the
// length of its header and of its content.
type tlv struct {
	tag      byte
	off, hdr int64
	n        int64
}

func (t tlv) content() int64 { return t.off + t.hdr }
func (t tlv) end() int64     { return t.off + t.hdr + t.n }

// read returns the whole element, refusing ones larger than limit.
func (t tlv) read(r io.ReaderAt, limit int64) ([]byte, error) {
	if t.hdr+t.n > limit {
		return nil, errors.New("element too large")
	}
	buf := make([]byte, t.hdr+t.n)
	_, err := r.ReadAt(buf, t.off)
	return buf, err
}

func readTLV(r io.ReaderAt, off int64) (tlv, error) {
	var b [6]byte
	n, err := r.ReadAt(b[:], off)
	if n < 2 {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return tlv{}, err
	}
	t := tlv{tag: b[0], off: off, hdr: 2}
	l := b[1]
	if l < 0x80 {
		t.n = int64(l)
		return t, nil
	}
	k := int(l & 0x7f)
	if k == 0 || k > 4 || n < 2+k {
		return tlv{}, errors.New("bad length")
	}
	for i := 0; i < k; i++ {
		t.n = t.n<<8 | int64(b[2+i])
	}
	t.hdr += int64(k)
	return t, nil
}

func readASN1Time(s *cryptobyte.String, t *time.Time) bool {
	if s.PeekASN1Tag(cbasn1.UTCTime) {
		return s.ReadASN1UTCTime(t)
	}
	return s.ReadASN1GeneralizedTime(t)
}

// IssuedBy reports whether the CRL names cert as its issuer: same subject
// and, when the CRL says, the same key (two CAs made from the same default
// request share a subject).
func (h *CRLHeader) IssuedBy(cert *x509.Certificate) bool {
	if !bytes.Equal(h.IssuerRaw, cert.RawSubject) {
		return false
	}
	return h.AuthKeyID == nil || bytes.Equal(h.AuthKeyID, cert.SubjectKeyId)
}

// CRLExtension is one extension of a CRL or of an entry.
type CRLExtension struct {
	OID      asn1.ObjectIdentifier
	Critical bool
	Value    []byte // the extnValue's content
}

// RevokedEntry is one entry of a CRL as EachRevokedEntry streams it. The
// slices are only valid during the call.
type RevokedEntry struct {
	Serial   []byte // big-endian magnitude
	Negative bool   // the serial is negative (RFC 5280 forbids it; still revoked as written)
	Reason   RevocationReason
	// HasReason tells an explicit reasonCode (unspecified included) from
	// none: RFC 5280 says to omit unspecified, so one written is shown.
	HasReason bool
	RawTime   []byte // the revocationDate's DER element, to copy as it is
	Date      time.Time
	// UnknownCritical names a critical entry extension other than a
	// Certificate Issuer, the one RFC 5280 §5.3 defines critical (OpenSSL
	// refuses any other; RFC 5280: such a CRL must not be used), or is "".
	UnknownCritical string
	// HasExtensions: the entry has crlEntryExtensions (a version 1 CRL
	// may not).
	HasExtensions bool
	// CertificateIssuer is set when the entry carries a Certificate
	// Issuer extension: it and the entries after it revoke certificates
	// of another CA (an indirect CRL).
	CertificateIssuer bool
	// Problem is what a consumer should be warned of: a reason code
	// outside RFC 5280, a duplicate or malformed entry extension; or "".
	// ProblemKind groups problems for one warning per kind ("reason",
	// "duplicate", "malformed"), whatever OID or code each names.
	Problem, ProblemKind string
}

// EachRevokedEntry streams the entries of the CRL whose header h was read
// from r, each parsed once: serial, date, reason, and what RFC 5280 asks
// a consumer to notice in its extensions.
func (h *CRLHeader) EachRevokedEntry(r io.ReaderAt, fn func(RevokedEntry)) error {
	if h.revokedLen == 0 {
		return nil
	}
	br := bufio.NewReaderSize(io.NewSectionReader(r, h.revokedOff, h.revokedLen), 1<<16)
	var buf []byte
	for i := 1; ; i++ {
		tag, err := br.ReadByte()
		if err == io.EOF {
			return nil
		}
		n, err2 := readDERLength(br)
		if err != nil || err2 != nil || tag != 0x30 {
			return fmt.Errorf("revoked certificate entry %d is malformed", i)
		}
		if n > maxCRLElement {
			return fmt.Errorf("revoked certificate entry %d is larger than 16 MiB, which mtlsctl does not read", i)
		}
		buf = slices.Grow(buf[:0], n)[:n]
		if _, err := io.ReadFull(br, buf); err != nil {
			return fmt.Errorf("revoked certificate entry %d is truncated", i)
		}
		entry := cryptobyte.String(buf)
		var serial cryptobyte.String
		if !entry.ReadASN1(&serial, cbasn1.INTEGER) || len(serial) == 0 {
			return fmt.Errorf("revoked certificate entry %d has no valid serial", i)
		}
		// DER writes an INTEGER in as few bytes as it takes; padding
		// (00 00 4F…) is refused by OpenSSL and crypto/x509 alike.
		if len(serial) > 1 && ((serial[0] == 0 && serial[1]&0x80 == 0) || (serial[0] == 0xff && serial[1]&0x80 != 0)) {
			return fmt.Errorf("revoked certificate entry %d has a serial padded with a leading byte, which DER does not allow", i)
		}
		e := RevokedEntry{Serial: trimLeadingZeros(serial), Negative: serial[0]&0x80 != 0}
		if e.Negative {
			e.Serial = new(big.Int).Neg(new(big.Int).Sub(new(big.Int).SetBytes(serial), new(big.Int).Lsh(big.NewInt(1), uint(8*len(serial))))).Bytes()
		}
		if err := parseEntryRest(entry, &e); err != nil {
			return fmt.Errorf("revoked certificate entry %d (serial %s): %v", i, entryHex(e), err)
		}
		fn(e)
	}
}

func entryHex(e RevokedEntry) string {
	s := strings.ToUpper(hex.EncodeToString(e.Serial))
	if s == "" {
		s = "00"
	}
	if e.Negative {
		return "-" + s
	}
	return s
}

// entryExtensions name the entry extensions RFC 5280 §5.3 defines; a
// critical one of another type makes the CRL unusable.
var entryExtensions = map[string]string{
	"2.5.29.21": "reason code", "2.5.29.24": "invalidity date", "2.5.29.29": "certificate issuer", "2.5.29.23": "hold instruction code",
}

// parseEntryRest reads an entry after its serial: the date, then the
// extensions. A missing or unreadable date makes the entry (and so the
// CRL) unreadable; what is wrong in an extension is noted, not fatal.
func parseEntryRest(rest cryptobyte.String, e *RevokedEntry) error {
	var rawTime cryptobyte.String
	if !rest.ReadAnyASN1Element(&rawTime, nil) {
		return errors.New("no revocation date")
	}
	e.RawTime = rawTime
	var ok bool
	if e.Date, ok = parseCRLTime(rawTime); !ok {
		return errors.New("its revocation date is not a valid UTCTime or GeneralizedTime")
	}
	if rest.Empty() {
		return nil
	}
	note := func(kind, p string) {
		if e.Problem == "" {
			e.Problem, e.ProblemKind = p, kind
		}
	}
	var exts cryptobyte.String
	if !rest.ReadASN1(&exts, cbasn1.SEQUENCE) || !rest.Empty() {
		// Not a list of extensions, or something after it: what it says
		// cannot be known, so the CRL cannot be read (OpenSSL and
		// crypto/x509 refuse it too).
		return errors.New("malformed entry extensions")
	}
	e.HasExtensions = true
	// Entries are read by the million: OIDs are compared as DER bytes and
	// made into strings only for messages.
	var seenBuf [4][]byte
	seen := seenBuf[:0]
	var seenSet map[string]struct{}
	for !exts.Empty() {
		oid, crit, value, ok := readExtension(&exts)
		if !ok {
			return errors.New("a malformed entry extension")
		}
		// Only a Certificate Issuer may be critical: OpenSSL refuses a
		// CRL with any other critical entry extension, reason codes
		// included (RFC 5280 defines them non-critical), and so does
		// mtlsctl, duplicates or not.
		if crit && !bytes.Equal(oid, derCertIssuer) && e.UnknownCritical == "" {
			e.UnknownCritical = oidText(oid)
		}
		// A handful of extensions is the rule: a list to scan; thousands
		// in one entry (hostile) would make that quadratic, so a set.
		dup := false
		if seenSet != nil {
			_, dup = seenSet[string(oid)]
			seenSet[string(oid)] = struct{}{}
		} else if dup = containsBytes(seen, oid); !dup {
			if seen = append(seen, oid); len(seen) > 16 {
				seenSet = make(map[string]struct{}, 64)
				for _, o := range seen {
					seenSet[string(o)] = struct{}{}
				}
			}
		}
		if dup {
			note("duplicate", "a duplicate "+extName(oidText(oid), entryExtensions)+" extension (RFC 5280 allows each once)")
			continue
		}
		switch {
		case bytes.Equal(oid, derReasonCode):
			var code int
			if !value.ReadASN1Enum(&code) || !value.Empty() {
				note("malformed", "a malformed reason code")
				continue
			}
			e.Reason, e.HasReason = RevocationReason(code), true
			if _, known := reasonText[e.Reason]; !known || code == 7 {
				note("reason", fmt.Sprintf("reason code %d, which RFC 5280 does not define", code))
			} else if e.Reason == 8 {
				note("reason", "the reason removeFromCRL, which belongs only in a delta CRL")
			}
		case bytes.Equal(oid, derCertIssuer):
			var names cryptobyte.String
			if !value.ReadASN1(&names, cbasn1.SEQUENCE) || !value.Empty() || names.Empty() {
				note("malformed", "an empty or malformed certificate issuer extension")
			}
			e.CertificateIssuer = true
		case bytes.Equal(oid, derInvalidityDate):
			var t time.Time
			if !value.ReadASN1GeneralizedTime(&t) {
				note("malformed", "a malformed invalidity date")
			}
		}
	}
	return nil
}

// The entry extensions RFC 5280 §5.3 defines, as the DER content of their
// OIDs (2.5.29.21, .29, .24 and .23).
var (
	derReasonCode      = []byte{0x55, 0x1d, 0x15}
	derCertIssuer      = []byte{0x55, 0x1d, 0x1d}
	derInvalidityDate  = []byte{0x55, 0x1d, 0x18}
	derHoldInstruction = []byte{0x55, 0x1d, 0x17}
)

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}

// oidText is the dotted form of an OID's DER content.
func oidText(der []byte) string {
	var oid asn1.ObjectIdentifier
	if !oidOf(der, &oid) {
		return "an invalid OID " + strings.ToUpper(hex.EncodeToString(der))
	}
	return oid.String()
}

func extName(oid string, names map[string]string) string {
	if n, ok := names[oid]; ok {
		return n
	}
	return oid
}

// parseCRLTime reads a DER UTCTime or GeneralizedTime element.
func parseCRLTime(raw []byte) (time.Time, bool) {
	if t, ok := parseZuluTime(raw); ok {
		return t, true
	}
	s := cryptobyte.String(raw)
	var t time.Time
	return t, readASN1Time(&s, &t) && s.Empty()
}

// parseZuluTime reads the form RFC 5280 §4.1.2.5 prescribes, UTCTime
// YYMMDDHHMMSSZ or GeneralizedTime YYYYMMDDHHMMSSZ, without allocating (a
// million entry dates go through here); anything else is left to
// cryptobyte, which agrees with it on these forms.
func parseZuluTime(raw []byte) (time.Time, bool) {
	if len(raw) < 2 || int(raw[1]) != len(raw)-2 {
		return time.Time{}, false
	}
	v := raw[2:]
	var year int
	switch {
	case raw[0] == 0x17 && len(v) == 13:
		if year = digits(v[0:2]); year < 0 {
			return time.Time{}, false
		}
		if year += 2000; year >= 2050 {
			year -= 100
		}
		v = v[2:]
	case raw[0] == 0x18 && len(v) == 15:
		year = digits(v[0:4])
		v = v[4:]
	default:
		return time.Time{}, false
	}
	if v[10] != 'Z' || year < 0 {
		return time.Time{}, false
	}
	mon, day, hour, minute, sec := digits(v[0:2]), digits(v[2:4]), digits(v[4:6]), digits(v[6:8]), digits(v[8:10])
	if mon < 1 || mon > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 || hour < 0 || minute < 0 || sec < 0 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(mon), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // 31 April rolls over to 1 May: not a date
		return time.Time{}, false
	}
	return t, true
}

// digits reads ASCII decimal digits, or -1.
func digits(b []byte) int {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func readDERLength(br *bufio.Reader) (int, error) {
	b, err := br.ReadByte()
	if err != nil {
		return 0, err
	}
	if b < 0x80 {
		return int(b), nil
	}
	k := int(b & 0x7f)
	if k == 0 || k > 3 {
		return 0, errors.New("bad length")
	}
	n := 0
	for range k {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		n = n<<8 | int(c)
	}
	return n, nil
}
