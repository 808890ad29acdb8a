package pkix

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// crlDER returns the DER of a CRL given as DER or PEM ("X509 CRL").
func crlDER(file string, data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errorf(file, "file is empty")
	}
	if trimmed[0] == 0x30 {
		return data, nil
	}
	rest := trimmed
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errorf(file, "not a CRL: neither DER nor a PEM X509 CRL block")
		}
		if block.Type == "X509 CRL" {
			return block.Bytes, nil
		}
	}
}

// CRLHeader is what a new CRL needs from the previous one. Reading only
// the header skips the entry list, so a million-entry ca.crl costs nothing
// to consult.
type CRLHeader struct {
	IssuerRaw  []byte
	AuthKeyID  []byte
	Number     *big.Int
	ThisUpdate time.Time
}

// ReadCRLHeader parses a CRL's issuer, number and this update.
func ReadCRLHeader(file string, data []byte) (*CRLHeader, error) {
	der, err := crlDER(file, data)
	if err != nil {
		return nil, err
	}
	bad := func(what string) error {
		return errorf(file, "not a valid CRL (%s)", what).withHint("move the file away, or choose another --out")
	}
	in := cryptobyte.String(der)
	var list, tbs cryptobyte.String
	if !in.ReadASN1(&list, cbasn1.SEQUENCE) || !list.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return nil, bad("no CertificateList")
	}
	if tbs.PeekASN1Tag(cbasn1.INTEGER) {
		var v int
		if !tbs.ReadASN1Integer(&v) {
			return nil, bad("version")
		}
	}
	var issuer cryptobyte.String
	if !tbs.SkipASN1(cbasn1.SEQUENCE) || !tbs.ReadASN1Element(&issuer, cbasn1.SEQUENCE) {
		return nil, bad("issuer")
	}
	h := &CRLHeader{IssuerRaw: issuer}
	if !readASN1Time(&tbs, &h.ThisUpdate) {
		return nil, bad("thisUpdate")
	}
	if tbs.PeekASN1Tag(cbasn1.UTCTime) || tbs.PeekASN1Tag(cbasn1.GeneralizedTime) {
		var next time.Time
		if !readASN1Time(&tbs, &next) {
			return nil, bad("nextUpdate")
		}
	}
	if tbs.PeekASN1Tag(cbasn1.SEQUENCE) && !tbs.SkipASN1(cbasn1.SEQUENCE) {
		return nil, bad("revoked certificates")
	}
	var exts cryptobyte.String
	var present bool
	if !tbs.ReadOptionalASN1(&exts, &present, cbasn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, bad("extensions")
	}
	if present {
		var seq cryptobyte.String
		if !exts.ReadASN1(&seq, cbasn1.SEQUENCE) {
			return nil, bad("extensions")
		}
		for !seq.Empty() {
			var ext, value cryptobyte.String
			var oid asn1.ObjectIdentifier
			if !seq.ReadASN1(&ext, cbasn1.SEQUENCE) || !ext.ReadASN1ObjectIdentifier(&oid) {
				return nil, bad("extension")
			}
			if ext.PeekASN1Tag(cbasn1.BOOLEAN) {
				var crit bool
				if !ext.ReadASN1Boolean(&crit) {
					return nil, bad("extension")
				}
			}
			if !ext.ReadASN1(&value, cbasn1.OCTET_STRING) {
				return nil, bad("extension")
			}
			if oid.Equal(oidCRLNumber) {
				n := new(big.Int)
				if !value.ReadASN1Integer(n) {
					return nil, bad("CRL number")
				}
				h.Number = n
			}
			if oid.Equal(oidAKI) {
				var aki, id cryptobyte.String
				if !value.ReadASN1(&aki, cbasn1.SEQUENCE) {
					return nil, bad("authority key identifier")
				}
				if aki.ReadASN1(&id, cbasn1.Tag(0).ContextSpecific()) {
					h.AuthKeyID = id
				}
			}
		}
	}
	return h, nil
}

func readASN1Time(s *cryptobyte.String, t *time.Time) bool {
	if s.PeekASN1Tag(cbasn1.UTCTime) {
		return s.ReadASN1UTCTime(t)
	}
	return s.ReadASN1GeneralizedTime(t)
}

// ParseCRL fully parses a DER or PEM CRL.
func ParseCRL(file string, data []byte) (*x509.RevocationList, error) {
	der, err := crlDER(file, data)
	if err != nil {
		return nil, err
	}
	rl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, errorf(file, "not a valid CRL: %v", err)
	}
	return rl, nil
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
