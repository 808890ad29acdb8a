package crl

import (
	"bytes"
	"encoding/asn1"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// RevocationList is a CRL read from anywhere (mtlsctl's own, cfssl's,
// another CA's) with what RFC 5280 §5 asks a consumer to notice. It is the
// one reader behind crl show, serve, check, inspect and the Worker
// builder: each acts on Refusals and Warnings instead of deciding for
// itself.
type RevocationList struct {
	*CRLHeader
	File string
	DER  []byte
	// Version is 1 or 2, as RFC 5280 numbers them (the DER says 0 or 1).
	Version int
	// SignatureAlgorithm is the algorithm's name as the rest of mtlsctl's
	// output spells it (Go's names: SHA256-RSA, MD2-RSA), or its OID.
	SignatureAlgorithm string
	// Kind is "complete" or what else the CRL is: "delta", "partitioned",
	// "indirect".
	Kind string
	// Refusals say why the CRL must not be used as the complete list of
	// what its CA revoked (a delta or partitioned CRL, a critical
	// extension mtlsctl does not understand). Empty for a usable CRL.
	Refusals []string
	// MustNotUse is set when the CRL must not be used at all, not only
	// not as a complete list: a critical extension mtlsctl does not
	// handle (RFC 5280 §5.2, §5.3; OpenSSL refuses the same ones) or an
	// extension given twice.
	MustNotUse bool
	// Warnings are what a consumer should hear but may still use it with:
	// no next update, no CRL number, odd entries.
	Warnings []string
	// Count is the number of entries; Entries holds them when ReadCRL
	// (not ScanCRL) read the file.
	Count   int
	Entries []CRLEntry

	sigOID     asn1.ObjectIdentifier
	sigParams  []byte
	tbs, sig   []byte
	entryNotes map[string]*entryNote
}

// CRLEntry is one revoked certificate.
type CRLEntry struct {
	Serial    *big.Int
	Date      time.Time
	Reason    RevocationReason
	HasReason bool // an explicit reasonCode, unspecified included
}

// entryNote gathers one kind of entry problem: how many entries have it
// and the first serial, so a million odd entries make one warning.
type entryNote struct {
	n           int
	first, what string
	refuse      bool
}

// ReadCRL reads a DER or PEM CRL and all its entries.
func ReadCRL(file string, data []byte) (*RevocationList, error) {
	var entries []CRLEntry
	c, err := ScanCRL(file, data, func(e RevokedEntry) { entries = append(entries, entryOf(e)) })
	if err != nil {
		return nil, err
	}
	c.Entries = entries
	return c, nil
}

// EachEntry streams the entries of a CRL read by ScanCRL a second time,
// as CRLEntry values: crl show prints a million entries without holding
// them.
func (c *RevocationList) EachEntry(fn func(CRLEntry)) error {
	return c.EachRevokedEntry(bytes.NewReader(c.DER), func(e RevokedEntry) {
		fn(entryOf(e))
	})
}

func entryOf(e RevokedEntry) CRLEntry {
	s := new(big.Int).SetBytes(e.Serial)
	if e.Negative {
		s.Neg(s)
	}
	return CRLEntry{Serial: s, Date: e.Date, Reason: e.Reason, HasReason: e.HasReason}
}

// ScanCRL reads a DER or PEM CRL and streams its entries to fn (which may
// be nil), so a million-entry CRL is checked without being held.
func ScanCRL(file string, data []byte, fn func(RevokedEntry)) (*RevocationList, error) {
	der, err := crlDER(file, data)
	if err != nil {
		return nil, err
	}
	return ScanCRLDER(file, der, fn)
}

// ScanCRLDER is ScanCRL on DER already taken out of its file.
func ScanCRLDER(file string, der []byte, fn func(RevokedEntry)) (*RevocationList, error) {
	var err error
	c := &RevocationList{File: file, DER: der, Kind: "complete", entryNotes: map[string]*entryNote{}}
	if err := c.parseOuter(); err != nil {
		return nil, pkix.Errorf(file, "not a valid CRL: %v", err).WithHint("give a CRL file (DER or PEM); 'openssl crl -in FILE -text' shows what it holds")
	}
	if c.CRLHeader, err = ReadCRLHeaderAt(file, bytes.NewReader(der)); err != nil {
		return nil, err
	}
	c.SignatureAlgorithm = x509text.SignatureAlgorithmName(c.sigOID, c.sigParams)
	c.headerFindings()
	var firstIndirect string
	withExtensions := 0
	err = c.EachRevokedEntry(bytes.NewReader(der), func(e RevokedEntry) {
		c.Count++
		if e.UnknownCritical != "" {
			c.noteEntry("critical", fmt.Sprintf("a critical extension %s that mtlsctl does not handle (only a Certificate Issuer may be critical; RFC 5280 §5.3: such a CRL must not be used to tell any certificate's status)", e.UnknownCritical), entryHex, e, true)
			c.MustNotUse = true
		}
		if e.CertificateIssuer && firstIndirect == "" {
			firstIndirect = entryHex(e)
		}
		if e.Problem != "" {
			c.noteEntry(e.ProblemKind, e.Problem, entryHex, e, false)
		}
		if e.HasExtensions {
			withExtensions++
		}
		if e.Negative {
			c.noteEntry("negative", "a negative serial number (RFC 5280 requires positive ones)", entryHex, e, false)
		}
		if fn != nil {
			fn(e)
		}
	})
	if err != nil {
		return nil, pkix.Errorf(file, "not a valid CRL: %v", err).WithHint("give a CRL file (DER or PEM); 'openssl crl -in FILE -text' shows what it holds")
	}
	if c.Version == 1 && withExtensions > 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("it is a version 1 CRL, yet %d entr%s extensions (RFC 5280 requires version 2 for them)", withExtensions, map[bool]string{true: "y has", false: "ies have"}[withExtensions == 1]))
	}
	if firstIndirect != "" {
		c.refuse("indirect", fmt.Sprintf("lists certificates of another CA (entry %s has a Certificate Issuer extension): mtlsctl cannot tell which serials are its issuer's", firstIndirect))
	}
	c.entryFindings()
	return c, nil
}

// parseOuter checks the CRL's structure as RFC 5280 §5.1 lays it out and
// keeps what the signature check needs.
func (c *RevocationList) parseOuter() error {
	in := cryptobyte.String(c.DER)
	var outer, tbs, tbsAll, algo, algoAll cryptobyte.String
	var bits asn1.BitString
	if !in.ReadASN1(&outer, cbasn1.SEQUENCE) {
		if len(c.DER) > 1 && c.DER[0] == 0x30 && c.DER[1] == 0x80 {
			return fmt.Errorf("an indefinite length, which is BER, not DER")
		}
		return fmt.Errorf("no DER CertificateList (a truncated file, a non-minimal length, or not a CRL)")
	}
	if len(bytes.TrimSpace(in)) > 0 {
		return fmt.Errorf("%d bytes after the CRL", len(in))
	}
	if !outer.ReadASN1Element(&tbsAll, cbasn1.SEQUENCE) || !outer.ReadASN1Element(&algoAll, cbasn1.SEQUENCE) ||
		!outer.ReadASN1BitString(&bits) || !outer.Empty() {
		return fmt.Errorf("malformed CertificateList")
	}
	// A signature that is not a whole number of bytes is read (OpenSSL
	// does too) and fails the signature check, not the parse.
	c.tbs, c.sig = tbsAll, bits.RightAlign()
	algo = algoAll
	if !algo.ReadASN1(&algo, cbasn1.SEQUENCE) || !algo.ReadASN1ObjectIdentifier(&c.sigOID) {
		return fmt.Errorf("malformed signature algorithm")
	}
	c.sigParams = algo
	tbs = tbsAll
	if !tbs.ReadASN1(&tbs, cbasn1.SEQUENCE) {
		return fmt.Errorf("malformed TBSCertList")
	}
	c.Version = 1
	if tbs.PeekASN1Tag(cbasn1.INTEGER) {
		var v int
		if !tbs.ReadASN1Integer(&v) || v != 1 {
			return fmt.Errorf("version %d: RFC 5280 CRLs are version 1 or 2", v+1)
		}
		c.Version = 2
	}
	var inner, issuer, revoked cryptobyte.String
	if !tbs.ReadASN1Element(&inner, cbasn1.SEQUENCE) {
		return fmt.Errorf("no signature algorithm in TBSCertList")
	}
	if !bytes.Equal(inner, algoAll) {
		return fmt.Errorf("the signature algorithm inside the signed part differs from the outer one")
	}
	if !tbs.ReadASN1(&issuer, cbasn1.SEQUENCE) {
		return fmt.Errorf("no issuer")
	}
	var t time.Time
	if !readASN1Time(&tbs, &t) {
		return fmt.Errorf("thisUpdate is not a valid UTCTime or GeneralizedTime")
	}
	if tbs.PeekASN1Tag(cbasn1.UTCTime) || tbs.PeekASN1Tag(cbasn1.GeneralizedTime) {
		if !readASN1Time(&tbs, &t) {
			return fmt.Errorf("nextUpdate is not a valid UTCTime or GeneralizedTime")
		}
	}
	if tbs.PeekASN1Tag(cbasn1.SEQUENCE) && !tbs.ReadASN1(&revoked, cbasn1.SEQUENCE) {
		return fmt.Errorf("malformed revokedCertificates")
	}
	if tbs.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		if c.Version == 1 {
			return fmt.Errorf("a version 1 CRL with extensions (RFC 5280 requires version 2)")
		}
		var exts cryptobyte.String
		if !tbs.ReadASN1(&exts, cbasn1.Tag(0).Constructed().ContextSpecific()) {
			return fmt.Errorf("malformed crlExtensions")
		}
	}
	if !tbs.Empty() {
		return fmt.Errorf("unexpected data at the end of TBSCertList")
	}
	return nil
}

// crlExtensions are the CRL extensions RFC 5280 §5.2 defines and mtlsctl
// acts on or may ignore; a critical one outside this list makes the CRL
// unusable.
var crlExtensions = map[string]string{
	"2.5.29.20": "CRL number", "2.5.29.35": "authority key identifier", "2.5.29.18": "issuer alternative name",
	"2.5.29.27": "delta CRL indicator", "2.5.29.28": "issuing distribution point", "2.5.29.46": "freshest CRL",
	"1.3.6.1.5.5.7.1.1": "authority information access",
}

func (c *RevocationList) headerFindings() {
	seen := map[string]bool{}
	for _, e := range c.Extensions {
		id := e.OID.String()
		if seen[id] {
			c.MustNotUse = true
			c.refuse("", fmt.Sprintf("has the %s extension twice (RFC 5280 allows each once): which one holds is ambiguous", extName(id, crlExtensions)))
		}
		seen[id] = true
		switch {
		case e.OID.Equal(oidDeltaCRL):
			base := new(big.Int)
			v := cryptobyte.String(e.Value)
			what := "a delta CRL"
			if v.ReadASN1Integer(base) {
				what = "a delta CRL (changes since base CRL number " + base.String() + ")"
			}
			c.refuse("delta", "is "+what+": it lists only what was revoked since its base CRL, not everything revoked")
		case e.OID.Equal(oidIssuingDP):
			c.refuse("partitioned", "has an Issuing Distribution Point ("+describeIDP(e.Value)+"): it covers only part of what its CA revoked")
		case e.Critical && crlExtensions[id] == "":
			c.MustNotUse = true
			c.refuse("", fmt.Sprintf("has a critical extension %s that mtlsctl does not understand; RFC 5280 §5.2 says such a CRL must not be used", id))
		case e.Critical && !e.OID.Equal(oidAKI):
			// RFC 5280 defines these non-critical; OpenSSL handles only
			// an AKI, an IDP and a delta indicator marked critical and
			// refuses the CRL otherwise. A critical Freshest CRL would
			// even require reading delta CRLs, which nothing here does.
			c.MustNotUse = true
			c.refuse("", fmt.Sprintf("has its %s extension marked critical, which RFC 5280 defines non-critical; OpenSSL refuses such a CRL (unhandled critical CRL extension)", crlExtensions[id]))
		}
	}
	if c.Number == nil {
		c.Warnings = append(c.Warnings, "it has no CRL Number (RFC 5280 requires one), so a newer CRL cannot be told from an older one; cfssl gencrl makes such CRLs")
	}
	if c.NextUpdate.IsZero() {
		c.Warnings = append(c.Warnings, "it has no next update: nothing tells when it is stale")
	}
	if n := c.Number; n != nil && (n.Sign() < 0 || len(n.Bytes()) > 20) {
		c.Warnings = append(c.Warnings, fmt.Sprintf("its CRL number %s is outside what RFC 5280 §5.2.3 allows (non-negative, at most 20 octets)", n))
	}
}

// refuse records why the CRL is not a complete list; kind, when given,
// names what it is instead.
func (c *RevocationList) refuse(kind, why string) {
	if kind != "" && c.Kind == "complete" {
		c.Kind = kind
	}
	c.Refusals = append(c.Refusals, why)
}

// noteEntry counts one entry problem of a kind; the first entry's own
// message is kept (the serial is made only then: a million entries with
// the same problem cost a count each).
func (c *RevocationList) noteEntry(kind, what string, serial func(RevokedEntry) string, e RevokedEntry, refuse bool) {
	n := c.entryNotes[kind]
	if n == nil {
		n = &entryNote{first: serial(e), what: what, refuse: refuse}
		c.entryNotes[kind] = n
	}
	n.n++
}

// entryKinds name each kind of entry problem in the plural, for the line
// that counts them.
var entryKinds = map[string]string{
	"critical": "critical extensions mtlsctl does not handle", "duplicate": "duplicate extensions",
	"reason": "reason codes a complete CRL should not have", "malformed": "malformed extension values",
	"negative": "negative serial numbers",
}

// entryFindings turns entry notes into refusals (critical extensions not
// handled) and warnings (everything else), one line per kind however many
// entries or OIDs it covers.
func (c *RevocationList) entryFindings() {
	for kind, n := range c.entryNotes {
		line := fmt.Sprintf("entry %s has %s", n.first, n.what)
		if n.n > 1 {
			line = fmt.Sprintf("%d entries have %s; the first, %s, has %s", n.n, entryKinds[kind], n.first, n.what)
		}
		if n.refuse {
			c.Refusals = append(c.Refusals, line)
		} else {
			c.Warnings = append(c.Warnings, line)
		}
	}
	slices.Sort(c.Refusals)
	slices.Sort(c.Warnings)
}

// Usable is nil when the CRL may be enforced as the complete list of what
// its CA revoked, and otherwise an error naming the file and the reason.
func (c *RevocationList) Usable() error {
	if len(c.Refusals) == 0 {
		return nil
	}
	return pkix.Errorf(c.File, "cannot be used as its CA's complete revocation list: %s", strings.Join(c.Refusals, "; ")).
		WithNext("give the CA's complete CRL (for an mtlsctl CA: %s)", pkix.ActBuildCRL)
}

// NextUpdateText is the next update as RFC 3339, or "none".
func (c *RevocationList) NextUpdateText() string {
	if c.NextUpdate.IsZero() {
		return "none"
	}
	return c.NextUpdate.UTC().Format(time.RFC3339)
}

// IssuerName is the CRL issuer as OpenSSL prints it (RFC 2253).
func (c *RevocationList) IssuerName() string { return x509text.FormatDN(c.IssuerRaw) }

// describeIDP names what an Issuing Distribution Point restricts the CRL
// to, in RFC 5280's terms.
func describeIDP(value []byte) string {
	in := cryptobyte.String(value)
	var idp cryptobyte.String
	if !in.ReadASN1(&idp, cbasn1.SEQUENCE) {
		return "malformed"
	}
	var parts []string
	if idp.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var dp, names cryptobyte.String
		idp.ReadASN1(&dp, cbasn1.Tag(0).Constructed().ContextSpecific())
		switch {
		case dp.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) && dp.ReadASN1(&names, cbasn1.Tag(0).Constructed().ContextSpecific()):
			var uris []string
			for !names.Empty() {
				var tag cbasn1.Tag
				var v cryptobyte.String
				if !names.ReadAnyASN1(&v, &tag) {
					break
				}
				if tag == cbasn1.Tag(6).ContextSpecific() {
					uris = append(uris, "URI:"+x509text.Printable(string(v)))
				}
			}
			if len(uris) > 0 {
				parts = append(parts, "distribution point "+strings.Join(uris, ", "))
			} else {
				parts = append(parts, "a named distribution point")
			}
		default:
			parts = append(parts, "a distribution point relative to the issuer")
		}
	}
	flag := func(n int, name string) {
		tag := cbasn1.Tag(n).ContextSpecific()
		if idp.PeekASN1Tag(tag) {
			var v cryptobyte.String
			idp.ReadASN1(&v, tag)
			if len(v) == 1 && v[0] != 0 {
				parts = append(parts, name)
			}
		}
	}
	flag(1, "only user certificates")
	flag(2, "only CA certificates")
	if tag := cbasn1.Tag(3).ContextSpecific(); idp.PeekASN1Tag(tag) {
		var v cryptobyte.String
		idp.ReadASN1(&v, tag)
		var reasons []string
		if len(v) > 1 {
			for bit, name := range []string{"unused", "keyCompromise", "cACompromise", "affiliationChanged", "superseded", "cessationOfOperation", "certificateHold", "privilegeWithdrawn", "aACompromise"} {
				if byteIdx := 1 + bit/8; byteIdx < len(v) && v[byteIdx]&(0x80>>(bit%8)) != 0 {
					reasons = append(reasons, name)
				}
			}
		}
		parts = append(parts, "only some reasons: "+strings.Join(reasons, ", "))
	}
	flag(4, "indirect CRL")
	flag(5, "only attribute certificates")
	if len(parts) == 0 {
		return "empty"
	}
	return strings.Join(parts, "; ")
}
