package crl

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
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
