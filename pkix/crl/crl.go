package crl

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"math/big"
	"time"

	"github.com/cloudflare/cfssl/signer"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
)

// CRLBuilder collects revoked serials straight into their DER encoding:
// one contiguous buffer of RevokedCertificate entries, about 40 bytes per
// serial, never a big.Int or a struct per entry. The same code path serves
// one serial and a million.
type CRLBuilder struct {
	entries     []byte   // concatenated DER entries
	offsets     []uint32 // start of entry i in entries
	lines       []uint32 // source line of entry i, for messages
	defaultDate time.Time
	defaultTime []byte // the default date, DER-encoded once
	// index is the open-addressing table of collapseDuplicates, kept for
	// Contains: the checks against the previous CRL and the inventory
	// look up serials without a map of a million keys.
	index []uint32
	seed  maphash.Seed
	// finished: duplicates collapsed and indexed (Finish), once.
	finished bool
	dups     []Duplicate
	// reasons kept from the CRL in force for entries listed without one
	// (entry index -> reason), applied when signing.
	reasons map[int]RevocationReason
}

// NewCRLBuilder starts an empty list; sizeHint (bytes of input, if known)
// pre-sizes the buffer so a large file is not copied as it grows.
func NewCRLBuilder(sizeHint int, revocationTime time.Time) *CRLBuilder {
	// A hex line of a 20-byte serial is 41 bytes and its entry 39: the
	// input size is a good estimate of the output.
	n := min(max(sizeHint, 4096), 256<<20) // grows past 256 MiB if it must
	return &CRLBuilder{
		entries:     make([]byte, 0, n),
		offsets:     make([]uint32, 0, n/32),
		lines:       make([]uint32, 0, n/32),
		defaultDate: revocationTime,
		defaultTime: appendTime(nil, revocationTime),
	}
}

// Add appends one revoked serial (big-endian magnitude, no leading zeros).
// A zero date means the builder's default revocation time.
func (b *CRLBuilder) Add(serial []byte, reason RevocationReason, date time.Time, line int) {
	encodedTime := b.defaultTime
	if !date.IsZero() {
		encodedTime = appendTime(nil, date)
	}
	start := len(b.entries)
	intLen := len(serial)
	if serial[0]&0x80 != 0 {
		intLen++
	}
	bodyLen := 2 + intLen + len(encodedTime)
	if reason != 0 { // RFC 5280 5.3.1: unspecified is expressed by omission
		bodyLen += 14
	}
	b.entries = appendHeader(b.entries, 0x30, bodyLen)
	b.entries = appendUnsignedInteger(b.entries, serial)
	b.entries = append(b.entries, encodedTime...)
	if reason != 0 {
		b.entries = appendReasonExtensions(b.entries, reason)
	}
	b.offsets = append(b.offsets, uint32(start))
	b.lines = append(b.lines, uint32(line))
}

// Len is the number of serials added so far, duplicates included.
func (b *CRLBuilder) Len() int { return len(b.offsets) }

// Duplicate is a serial listed again; the first listing wins.
type Duplicate struct {
	Serial    *big.Int
	Line      int
	FirstLine int
}

// entrySerial returns the INTEGER content (magnitude, maybe with a 0x00
// sign byte) of entry i.
func (b *CRLBuilder) entrySerial(i int) []byte {
	e := b.entries[b.offsets[i]:]
	hdr := 2
	if e[1]&0x80 != 0 {
		hdr += int(e[1] & 0x7f)
	}
	n := int(e[hdr+1])
	return e[hdr+2 : hdr+2+n]
}

// collapseDuplicates removes repeated serials, keeping the first. It
// uses an open-addressing table of entry indexes (4 bytes a slot, two
// slots an entry, freed after) rather than a map of a million keys.
func (b *CRLBuilder) collapseDuplicates() []Duplicate {
	n := len(b.offsets)
	size := 1
	for size < 2*n {
		size <<= 1
	}
	table := make([]uint32, size) // entry index + 1; 0 is empty
	mask := uint64(size - 1)
	seed := maphash.MakeSeed()
	b.seed = seed
	var dropped map[uint32]uint32 // entry index -> index of its first listing
	for i := range n {
		serial := b.entrySerial(i)
		for slot := maphash.Bytes(seed, serial) & mask; ; slot = (slot + 1) & mask {
			at := table[slot]
			if at == 0 {
				table[slot] = uint32(i) + 1
				break
			}
			if bytes.Equal(b.entrySerial(int(at-1)), serial) {
				if dropped == nil {
					dropped = map[uint32]uint32{}
				}
				dropped[uint32(i)] = at - 1
				break
			}
		}
	}
	if len(dropped) == 0 {
		b.index = table
		return nil
	}
	var dups []Duplicate
	w := 0
	keptOffsets := b.offsets[:0]
	keptLines := b.lines[:0]
	for i := range b.offsets {
		start := int(b.offsets[i])
		end := len(b.entries)
		if i+1 < len(b.offsets) {
			end = int(b.offsets[i+1])
		}
		if first, ok := dropped[uint32(i)]; ok {
			dups = append(dups, Duplicate{Serial: new(big.Int).SetBytes(b.entrySerial(i)), Line: int(b.lines[i]), FirstLine: int(b.lines[first])})
			continue
		}
		line := b.lines[i]
		m := copy(b.entries[w:], b.entries[start:end])
		keptOffsets = append(keptOffsets, uint32(w))
		keptLines = append(keptLines, line)
		w += m
	}
	b.entries = b.entries[:w]
	b.offsets, b.lines = keptOffsets, keptLines
	// Entries moved: index them again (duplicates are rare, so is this).
	clear(table)
	for i := range b.offsets {
		for slot := maphash.Bytes(seed, b.entrySerial(i)) & mask; ; slot = (slot + 1) & mask {
			if table[slot] == 0 {
				table[slot] = uint32(i) + 1
				break
			}
		}
	}
	b.index = table
	return dups
}

// Finish collapses duplicates and indexes the entries, once: Sign does it
// if it was not done, and a caller that wants Contains or KeepDate before
// signing calls it first.
func (b *CRLBuilder) Finish() []Duplicate {
	if !b.finished {
		b.dups = b.collapseDuplicates()
		b.finished = true
	}
	return b.dups
}

// Contains reports whether the list holds a serial (after Finish).
func (b *CRLBuilder) Contains(magnitude []byte) bool { return (&CRL{b: b}).Contains(magnitude) }

// Keep makes a serial listed without a date or a reason of its own keep
// those the CRL in force gives it (rawTime its DER time element): a
// revocation keeps the date it first had instead of a new one at every
// rebuild, and a keyCompromise or a certificateHold does not silently
// become "unspecified" (a hold made permanent). It reports whether the new
// list holds the serial. (Dates are swapped in place, which every UTCTime
// allows; a reason is added when signing.)
func (b *CRLBuilder) Keep(magnitude []byte, rawTime []byte, reason RevocationReason) bool {
	i, ok := b.find(magnitude)
	if !ok {
		return false
	}
	e := b.entries[b.offsets[i]:]
	hdr, body := 2, int(e[1])
	if e[1]&0x80 != 0 {
		n := int(e[1] & 0x7f)
		hdr += n
		body = 0
		for _, c := range e[2 : 2+n] {
			body = body<<8 | int(c)
		}
	}
	at := hdr + 2 + int(e[hdr+1]) // past the serial INTEGER
	timeLen := 2 + int(e[at+1])
	if len(rawTime) == len(b.defaultTime) && (rawTime[0] == 0x17 || rawTime[0] == 0x18) && int(rawTime[1]) == len(rawTime)-2 &&
		bytes.Equal(e[at:at+len(b.defaultTime)], b.defaultTime) {
		copy(e[at:], rawTime) // dated by its line otherwise: that date stands
	}
	if reason != 0 && hdr+body == at+timeLen { // no extensions: no reason of its own
		if b.reasons == nil {
			b.reasons = map[int]RevocationReason{}
		}
		b.reasons[i] = reason
	}
	return true
}

// applyReasons re-encodes the entries that keep a reason, in one pass.
func (b *CRLBuilder) applyReasons() {
	if len(b.reasons) == 0 {
		return
	}
	out := make([]byte, 0, len(b.entries)+14*len(b.reasons))
	offsets := make([]uint32, len(b.offsets))
	for i := range b.offsets {
		start, end := int(b.offsets[i]), len(b.entries)
		if i+1 < len(b.offsets) {
			end = int(b.offsets[i+1])
		}
		offsets[i] = uint32(len(out))
		r, ok := b.reasons[i]
		if !ok {
			out = append(out, b.entries[start:end]...)
			continue
		}
		e := b.entries[start:end]
		hdr := 2
		if e[1]&0x80 != 0 {
			hdr += int(e[1] & 0x7f)
		}
		serial := trimLeadingZeros(b.entrySerial(i))
		at := hdr + 2 + int(e[hdr+1])
		timeTLV := e[at : at+2+int(e[at+1])]
		intLen := len(serial)
		if serial[0]&0x80 != 0 {
			intLen++
		}
		out = appendHeader(out, 0x30, 2+intLen+len(timeTLV)+14)
		out = appendUnsignedInteger(out, serial)
		out = append(out, timeTLV...)
		out = appendReasonExtensions(out, r)
	}
	b.entries, b.offsets, b.reasons = out, offsets, nil
}

// find is the index of a serial's entry, after Finish.
func (b *CRLBuilder) find(magnitude []byte) (int, bool) {
	if len(b.index) == 0 {
		return 0, false
	}
	magnitude = trimLeadingZeros(magnitude)
	key := magnitude
	if len(magnitude) > 0 && magnitude[0]&0x80 != 0 {
		// entrySerial keeps the INTEGER's sign byte; look up the same bytes.
		key = append(append(make([]byte, 0, len(magnitude)+1), 0), magnitude...)
	}
	mask := uint64(len(b.index) - 1)
	for slot := maphash.Bytes(b.seed, key) & mask; ; slot = (slot + 1) & mask {
		at := b.index[slot]
		if at == 0 {
			return 0, false
		}
		if bytes.Equal(b.entrySerial(int(at-1)), key) {
			return int(at - 1), true
		}
	}
}

// Contains reports whether the signed CRL lists a serial (big-endian
// magnitude, as RawSerial and the serials file give it).
func (c *CRL) Contains(magnitude []byte) bool {
	_, ok := c.b.find(magnitude)
	return ok
}

// EachRawSerial calls fn with every listed serial's magnitude (no sign
// byte), in order, until fn returns false. The slice is only valid
// during the call.
func (c *CRL) EachRawSerial(fn func(magnitude []byte) bool) {
	for i := range c.b.offsets {
		if !fn(trimLeadingZeros(c.b.entrySerial(i))) {
			return
		}
	}
}

// CRLParams are the CRL-wide fields.
type CRLParams struct {
	Issuer     *x509.Certificate
	Key        crypto.Signer
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
}

// CRL is a signed CRL kept as the pieces of its DER encoding, so the big
// entry list is written out without being copied again.
type CRL struct {
	parts      [][]byte
	Size       int
	Number     *big.Int
	ThisUpdate time.Time
	NextUpdate time.Time
	SigAlg     x509.SignatureAlgorithm
	Count      int
	Duplicates []Duplicate
	b          *CRLBuilder
}

// CheckCRLIssuer refuses a CA that CRL consumers would not accept as the
// signer of a CRL, and a key that is not the CA's.
func CheckCRLIssuer(certFile string, cert *x509.Certificate, keyFile string, key crypto.Signer) error {
	if !pemutil.KeyMatches(cert, key) {
		return pkix.Errorf(keyFile, "this key does not belong to the certificate in %s", certFile).
			WithHint("use the key that was written with that certificate")
	}
	if !cert.IsCA {
		return pkix.Errorf(certFile, "the certificate is not a CA")
	}
	if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCRLSign == 0 {
		return pkix.Errorf(certFile, "the CA's key usage lacks cRLSign, so OpenSSL and Access's CRL checks would reject its CRLs").
			WithNext(`re-create the CA with "crl sign" in its usages (%s does this)`, pkix.ActMakeCA)
	}
	if len(cert.SubjectKeyId) == 0 {
		return pkix.Errorf(certFile, "the CA has no Subject Key Identifier, which the CRL's Authority Key Identifier must name").
			WithNext("re-create the CA with %s", pkix.ActMakeCA)
	}
	return nil
}

// Sign finishes the list (collapsing duplicates) and signs it.
func (b *CRLBuilder) Sign(p CRLParams) (*CRL, error) {
	if p.NextUpdate.Before(p.ThisUpdate) {
		return nil, errors.New("next update is before this update")
	}
	if nb := p.Number.Bytes(); p.Number.Sign() < 0 || len(nb) > 20 || (len(nb) == 20 && nb[0]&0x80 != 0) {
		return nil, errors.New("CRL number must be a non-negative integer of at most 20 octets")
	}
	dups := b.Finish()
	b.applyReasons()
	sigAlg := signer.DefaultSigAlgo(p.Key)
	algID, hash, err := signatureAlgorithmFor(sigAlg)
	if err != nil {
		return nil, err
	}

	// Extensions: Authority Key Identifier, then CRL Number, as crypto/x509
	// orders them.
	aki := appendHeader(nil, 0x80, len(p.Issuer.SubjectKeyId))
	aki = append(aki, p.Issuer.SubjectKeyId...)
	aki = append(appendHeader(nil, 0x30, len(aki)), aki...)
	num := appendUnsignedInteger(nil, p.Number.Bytes())
	var exts []byte
	exts = appendExtension(exts, oidAKI, aki)
	exts = appendExtension(exts, oidCRLNumber, num)
	exts = append(appendHeader(nil, 0x30, len(exts)), exts...)
	tail := append(appendHeader(nil, 0xa0, len(exts)), exts...)

	var head []byte
	head = append(head, 0x02, 0x01, 0x01) // version v2
	head = append(head, algID...)
	head = append(head, p.Issuer.RawSubject...)
	head = appendTime(head, p.ThisUpdate)
	head = appendTime(head, p.NextUpdate)
	if len(b.entries) > 0 {
		head = appendHeader(head, 0x30, len(b.entries))
	}
	tbsLen := len(head) + len(b.entries) + len(tail)
	tbsHead := append(appendHeader(nil, 0x30, tbsLen), head...)
	tbsParts := [][]byte{tbsHead, b.entries, tail}

	sig, err := signParts(p.Key, hash, tbsParts)
	if err != nil {
		return nil, err
	}
	bitString := append(appendHeader(nil, 0x03, len(sig)+1), 0)
	bitString = append(bitString, sig...)
	tbsTotal := len(tbsHead) + len(b.entries) + len(tail)
	outer := appendHeader(nil, 0x30, tbsTotal+len(algID)+len(bitString))
	parts := [][]byte{outer, tbsHead, b.entries, tail, algID, bitString}
	size := 0
	for _, part := range parts {
		size += len(part)
	}
	return &CRL{parts: parts, Size: size, Number: p.Number, ThisUpdate: p.ThisUpdate.UTC().Truncate(time.Second),
		NextUpdate: p.NextUpdate.UTC().Truncate(time.Second), SigAlg: sigAlg, Count: len(b.offsets), Duplicates: dups, b: b}, nil
}

// signParts signs the concatenation of parts, hashing them in place, and
// checks the signature as crypto/x509 does, so a faulty signer cannot
// produce a CRL that nobody will accept.
func signParts(key crypto.Signer, hash crypto.Hash, parts [][]byte) ([]byte, error) {
	var digest, msg []byte
	if hash == 0 { // Ed25519 signs the message itself
		msg = bytes.Join(parts, nil)
		digest = msg
	} else {
		h := hash.New()
		for _, p := range parts {
			h.Write(p)
		}
		digest = h.Sum(nil)
	}
	sig, err := key.Sign(rand.Reader, digest, hash)
	if err != nil {
		return nil, fmt.Errorf("signing the CRL: %v", err)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		err = rsa.VerifyPKCS1v15(pub, hash, digest, sig)
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			err = errors.New("invalid ECDSA signature")
		}
	case ed25519.PublicKey:
		if !ed25519.Verify(pub, msg, sig) {
			err = errors.New("invalid Ed25519 signature")
		}
	default:
		err = fmt.Errorf("unsupported key %T", pub)
	}
	if err != nil {
		return nil, fmt.Errorf("the signer returned a bad CRL signature: %v", err)
	}
	return sig, nil
}

// WriteTo writes the DER CRL.
func (c *CRL) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for _, p := range c.parts {
		m, err := w.Write(p)
		n += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// WritePEMTo writes the CRL as an "X509 CRL" PEM block, streaming the
// base64 so a large CRL is not held twice.
func (c *CRL) WritePEMTo(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("-----BEGIN X509 CRL-----\n")
	lw := &lineWrapper{w: bw}
	enc := newBase64Encoder(lw)
	if _, err := c.WriteTo(enc); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	if lw.col > 0 {
		bw.WriteByte('\n')
	}
	bw.WriteString("-----END X509 CRL-----\n")
	return bw.Flush()
}

// Bytes returns the whole DER CRL in one slice (tests, small CRLs).
func (c *CRL) Bytes() []byte {
	var buf bytes.Buffer
	buf.Grow(c.Size)
	c.WriteTo(&buf)
	return buf.Bytes()
}

// EachSerial calls fn with the first limit revoked serials, in order.
func (c *CRL) EachSerial(limit int, fn func(*big.Int)) {
	for i := range min(limit, len(c.b.offsets)) {
		fn(new(big.Int).SetBytes(c.b.entrySerial(i)))
	}
}

// NextCRLNumber never goes backwards: one above the previous CRL's number,
// and at least the current time in milliseconds, so a lost ca.crl does not
// restart the sequence.
func NextCRLNumber(previous *big.Int, now time.Time) *big.Int {
	n := big.NewInt(now.UnixMilli())
	if previous != nil {
		if p := new(big.Int).Add(previous, big.NewInt(1)); p.Cmp(n) > 0 {
			n = p
		}
	}
	return n
}
