package crl

import (
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"time"
)

// Small hand-rolled DER encoders for the CRL's hot path: an entry is a
// handful of bytes, and encoding a million of them through encoding/asn1's
// reflection is what makes the standard library's CRL slow and large.

// appendHeader appends a DER tag and length.
func appendHeader(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

func headerLen(n int) int {
	switch {
	case n < 0x80:
		return 2
	case n < 0x100:
		return 3
	case n < 0x10000:
		return 4
	case n < 0x1000000:
		return 5
	}
	return 6
}

// appendUnsignedInteger appends a DER INTEGER for a non-negative magnitude
// given big-endian without leading zeros.
func appendUnsignedInteger(b, mag []byte) []byte {
	if len(mag) == 0 {
		return append(b, 0x02, 0x01, 0x00)
	}
	if mag[0]&0x80 != 0 {
		b = appendHeader(b, 0x02, len(mag)+1)
		b = append(b, 0)
		return append(b, mag...)
	}
	b = appendHeader(b, 0x02, len(mag))
	return append(b, mag...)
}

// appendTime encodes like encoding/asn1 does for time.Time: UTCTime for
// 1950 to 2049, GeneralizedTime otherwise, whole seconds, UTC.
// EncodeTime is a time as a CRL encodes it (UTCTime until 2049).
func EncodeTime(t time.Time) []byte { return appendTime(nil, t) }

func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		b = append(b, 0x17, 13)
		return t.AppendFormat(b, "060102150405Z")
	}
	b = append(b, 0x18, 15)
	return t.AppendFormat(b, "20060102150405Z")
}

var (
	oidReasonCode     = asn1.ObjectIdentifier{2, 5, 29, 21}
	oidCRLNumber      = asn1.ObjectIdentifier{2, 5, 29, 20}
	oidAKI            = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidDeltaCRL       = asn1.ObjectIdentifier{2, 5, 29, 27}
	oidIssuingDP      = asn1.ObjectIdentifier{2, 5, 29, 28}
	oidInvalidityDate = asn1.ObjectIdentifier{2, 5, 29, 24}
	oidCertIssuer     = asn1.ObjectIdentifier{2, 5, 29, 29}
	oidRSAPSS         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
)

// reasonExtension is the crlEntryExtensions of one entry: a SEQUENCE OF
// one Extension {reasonCode, OCTET STRING {ENUMERATED r}}.
func appendReasonExtensions(b []byte, r RevocationReason) []byte {
	return append(b, 0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, byte(r))
}

// signatureAlgorithmFor picks the algorithm cfssl would use for this key
// (so an RSA-4096 CA signs its CRL SHA-512, like its certificates) and
// returns its DER AlgorithmIdentifier, encoded as crypto/x509 encodes it.
func signatureAlgorithmFor(alg x509.SignatureAlgorithm) (der []byte, hash crypto.Hash, err error) {
	var oid asn1.ObjectIdentifier
	nullParams := false
	switch alg {
	case x509.SHA256WithRSA:
		oid, hash, nullParams = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}, crypto.SHA256, true
	case x509.SHA384WithRSA:
		oid, hash, nullParams = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}, crypto.SHA384, true
	case x509.SHA512WithRSA:
		oid, hash, nullParams = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}, crypto.SHA512, true
	case x509.ECDSAWithSHA256:
		oid, hash = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}, crypto.SHA256
	case x509.ECDSAWithSHA384:
		oid, hash = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}, crypto.SHA384
	case x509.ECDSAWithSHA512:
		oid, hash = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}, crypto.SHA512
	case x509.PureEd25519:
		oid, hash = asn1.ObjectIdentifier{1, 3, 101, 112}, crypto.Hash(0)
	default:
		return nil, 0, fmt.Errorf("cannot sign a CRL with %s", alg)
	}
	oidDER, err := asn1.Marshal(oid)
	if err != nil {
		return nil, 0, err
	}
	body := oidDER
	if nullParams {
		body = append(body, 0x05, 0x00)
	}
	return append(appendHeader(nil, 0x30, len(body)), body...), hash, nil
}

// appendExtension appends Extension {oid, OCTET STRING value} (non-critical).
func appendExtension(b []byte, oid asn1.ObjectIdentifier, value []byte) []byte {
	oidDER, _ := asn1.Marshal(oid)
	inner := len(oidDER) + headerLen(len(value)) + len(value)
	b = appendHeader(b, 0x30, inner)
	b = append(b, oidDER...)
	b = appendHeader(b, 0x04, len(value))
	return append(b, value...)
}
