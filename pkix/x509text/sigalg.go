package x509text

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	_ "crypto/sha1" // PSS with SHA-1, RFC 4055's default hash
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/asn1"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// sigAlg is a signature algorithm by OID: its name (Go's spelling, as the
// rest of mtlsctl's output uses) and what Go verifies it as, or
// UnknownSignatureAlgorithm for those Go cannot check (MD2, DSA, Ed448...).
type sigAlg struct {
	Name string
	Alg  x509.SignatureAlgorithm
}

var sigAlgs = map[string]sigAlg{
	"1.2.840.113549.1.1.2":    {"MD2-RSA", x509.UnknownSignatureAlgorithm},
	"1.2.840.113549.1.1.4":    {"MD5-RSA", x509.UnknownSignatureAlgorithm},
	"1.2.840.113549.1.1.5":    {"SHA1-RSA", x509.SHA1WithRSA},
	"1.3.14.3.2.29":           {"SHA1-RSA", x509.SHA1WithRSA},
	"1.2.840.113549.1.1.14":   {"SHA224-RSA", x509.UnknownSignatureAlgorithm},
	"1.2.840.113549.1.1.11":   {"SHA256-RSA", x509.SHA256WithRSA},
	"1.2.840.113549.1.1.12":   {"SHA384-RSA", x509.SHA384WithRSA},
	"1.2.840.113549.1.1.13":   {"SHA512-RSA", x509.SHA512WithRSA},
	"1.2.840.113549.1.1.10":   {"RSASSA-PSS", x509.UnknownSignatureAlgorithm}, // the hash is in the parameters
	"1.2.840.10045.4.1":       {"ECDSA-SHA1", x509.ECDSAWithSHA1},
	"1.2.840.10045.4.3.1":     {"ECDSA-SHA224", x509.UnknownSignatureAlgorithm},
	"1.2.840.10045.4.3.2":     {"ECDSA-SHA256", x509.ECDSAWithSHA256},
	"1.2.840.10045.4.3.3":     {"ECDSA-SHA384", x509.ECDSAWithSHA384},
	"1.2.840.10045.4.3.4":     {"ECDSA-SHA512", x509.ECDSAWithSHA512},
	"1.2.840.10040.4.3":       {"DSA-SHA1", x509.UnknownSignatureAlgorithm},
	"2.16.840.1.101.3.4.3.1":  {"DSA-SHA224", x509.UnknownSignatureAlgorithm},
	"2.16.840.1.101.3.4.3.2":  {"DSA-SHA256", x509.UnknownSignatureAlgorithm},
	"1.3.101.112":             {"Ed25519", x509.PureEd25519},
	"1.3.101.113":             {"Ed448", x509.UnknownSignatureAlgorithm},
	"2.16.840.1.101.3.4.3.17": {"ML-DSA-44", x509.UnknownSignatureAlgorithm},
	"2.16.840.1.101.3.4.3.18": {"ML-DSA-65", x509.UnknownSignatureAlgorithm},
	"2.16.840.1.101.3.4.3.19": {"ML-DSA-87", x509.UnknownSignatureAlgorithm},
	"1.2.156.10197.1.501":     {"SM2-SM3", x509.UnknownSignatureAlgorithm},
}

// pssHashes are the RSASSA-PSS hashes Go verifies, by the hash OID in the
// parameters (Go checks PSS with the salt as long as the hash).
var pssHashes = map[string]sigAlg{
	"2.16.840.1.101.3.4.2.1": {"SHA256-RSAPSS", x509.SHA256WithRSAPSS},
	"2.16.840.1.101.3.4.2.2": {"SHA384-RSAPSS", x509.SHA384WithRSAPSS},
	"2.16.840.1.101.3.4.2.3": {"SHA512-RSAPSS", x509.SHA512WithRSAPSS},
}

func LookupSigAlg(oid asn1.ObjectIdentifier, params []byte) (sigAlg, bool) {
	a, ok := sigAlgs[oid.String()]
	if ok && a.Name == "RSASSA-PSS" {
		// RSASSA-PSS-params: SEQUENCE { [0] EXPLICIT hashAlgorithm, ... };
		// an absent hash means SHA-1, which Go does not verify for PSS.
		p := cryptobyte.String(params)
		var seq, h, hashAlg cryptobyte.String
		var hashOID asn1.ObjectIdentifier
		if p.ReadASN1(&seq, cbasn1.SEQUENCE) && seq.ReadASN1(&h, cbasn1.Tag(0).Constructed().ContextSpecific()) &&
			h.ReadASN1(&hashAlg, cbasn1.SEQUENCE) && hashAlg.ReadASN1ObjectIdentifier(&hashOID) {
			if pss, known := pssHashes[hashOID.String()]; known {
				return pss, true
			}
		}
	}
	return a, ok
}

// SignatureAlgorithmName names a signature algorithm by its OID even when
// Go does not know it, so nothing prints as Go's "0".
func SignatureAlgorithmName(oid asn1.ObjectIdentifier, params []byte) string {
	if a, ok := LookupSigAlg(oid, params); ok {
		return a.Name
	}
	return "an unknown algorithm (" + oid.String() + ")"
}

// certSignatureAlgorithm reads the outer signature algorithm of a DER
// certificate, CSR or CRL: all three are SEQUENCE { signed, algorithm,
// signature }.
func certSignatureAlgorithm(der []byte) (asn1.ObjectIdentifier, []byte, bool) {
	in := cryptobyte.String(der)
	var outer, algo cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) || !outer.SkipASN1(cbasn1.SEQUENCE) ||
		!outer.ReadASN1(&algo, cbasn1.SEQUENCE) || !algo.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, false
	}
	return oid, algo, true
}

// SignatureAlgorithmOf names the signature algorithm of a DER certificate,
// request or CRL from the OID it carries.
func SignatureAlgorithmOf(der []byte) string {
	oid, params, ok := certSignatureAlgorithm(der)
	if !ok {
		return "an unknown algorithm"
	}
	return SignatureAlgorithmName(oid, params)
}

// pssParams are what RSASSA-PSS-params (RFC 4055 §3.1) say: the hash, the
// MGF1 hash and the salt length, with RFC 4055's defaults (SHA-1, 20).
type pssParams struct {
	hash, mgfHash crypto.Hash
	saltLength    int
}

var pssHashOIDs = map[string]crypto.Hash{
	"1.3.14.3.2.26": crypto.SHA1, "2.16.840.1.101.3.4.2.4": crypto.SHA224, "2.16.840.1.101.3.4.2.1": crypto.SHA256,
	"2.16.840.1.101.3.4.2.2": crypto.SHA384, "2.16.840.1.101.3.4.2.3": crypto.SHA512,
}

func parsePSSParams(params []byte) (pssParams, bool) {
	p := pssParams{hash: crypto.SHA1, mgfHash: crypto.SHA1, saltLength: 20}
	in := cryptobyte.String(params)
	var seq cryptobyte.String
	if !in.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return p, false
	}
	hashOf := func(alg cryptobyte.String) (crypto.Hash, bool) {
		var id cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !alg.ReadASN1(&id, cbasn1.SEQUENCE) || !id.ReadASN1ObjectIdentifier(&oid) {
			return 0, false
		}
		h, ok := pssHashOIDs[oid.String()]
		return h, ok
	}
	var field cryptobyte.String
	var ok bool
	if seq.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		if !seq.ReadASN1(&field, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return p, false
		}
		if p.hash, ok = hashOf(field); !ok {
			return p, false
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		// MaskGenAlgorithm: SEQUENCE { id-mgf1, HashAlgorithm }
		var mgf, mgfOID, inner cryptobyte.String
		if !seq.ReadASN1(&field, cbasn1.Tag(1).Constructed().ContextSpecific()) || !field.ReadASN1(&mgf, cbasn1.SEQUENCE) ||
			!mgf.ReadASN1(&mgfOID, cbasn1.OBJECT_IDENTIFIER) || !bytes.Equal(mgfOID, []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08}) {
			return p, false
		}
		inner = mgf
		if p.mgfHash, ok = hashOf(inner); !ok {
			return p, false
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(2).Constructed().ContextSpecific()) {
		if !seq.ReadASN1(&field, cbasn1.Tag(2).Constructed().ContextSpecific()) || !field.ReadASN1Integer(&p.saltLength) || p.saltLength < 0 {
			return p, false
		}
	}
	return p, true
}

// VerifyPSS checks an RSASSA-PSS signature with the salt length its
// parameters give: crypto/x509 checks only a salt as long as the hash, and
// would call OpenSSL's default (the longest salt) a bad signature.
func VerifyPSS(pub crypto.PublicKey, params, signed, sig []byte) (supported bool, err error) {
	key, isRSA := pub.(*rsa.PublicKey)
	p, ok := parsePSSParams(params)
	if !isRSA || !ok || p.hash != p.mgfHash || !p.hash.Available() {
		return false, nil
	}
	h := p.hash.New()
	h.Write(signed)
	return true, rsa.VerifyPSS(key, p.hash, h.Sum(nil), sig, &rsa.PSSOptions{SaltLength: p.saltLength, Hash: p.hash})
}
