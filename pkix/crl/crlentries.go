package crl

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

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
