package crl

import (
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"math/big"
	"sort"
	"strings"
	"time"
)

// RevocationReason is an RFC 5280 CRLReason code.
type RevocationReason int

// ReasonCertificateHold is the one reason whose revocation may be lifted.
const ReasonCertificateHold RevocationReason = 6

// ReasonKeyCompromise: the private key is known to others; every
// certificate of that key is as good as theirs.
const ReasonKeyCompromise RevocationReason = 1

// ReasonSuperseded is what a renewal that revokes the old certificate says.
const ReasonSuperseded RevocationReason = 4

// reasonNames are RFC 5280's names, matched case-insensitively. 7 is unused
// and removeFromCRL (8) belongs only in delta CRLs, so neither is accepted.
var reasonNames = map[string]RevocationReason{
	"unspecified":          0,
	"keycompromise":        1,
	"cacompromise":         2,
	"affiliationchanged":   3,
	"superseded":           4,
	"cessationofoperation": 5,
	"certificatehold":      6,
	"privilegewithdrawn":   9,
	"aacompromise":         10,
}

var reasonText = map[RevocationReason]string{
	0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
	4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
	9: "privilegeWithdrawn", 10: "aACompromise",
}

func (r RevocationReason) String() string {
	if s, ok := reasonText[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseReason reads an RFC 5280 reason name such as "keyCompromise".
func ParseReason(s string) (RevocationReason, bool) {
	r, ok := reasonNames[strings.ToLower(s)]
	return r, ok
}

// SuggestReason finds the reason a misspelt name meant: the same letters
// in another case or with separators ("key-compromise", "KEY_COMPROMISE"),
// or within two edits ("keyCompromize").
func SuggestReason(s string) (string, bool) {
	norm := func(x string) string {
		return strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(x))
	}
	var names []string
	for _, name := range reasonText {
		if name == "removeFromCRL" {
			continue
		}
		if norm(name) == norm(s) {
			return name, true
		}
		names = append(names, name)
	}
	if len(s) < 6 || !notHex(s) {
		return "", false // too short, or could be hex: not a word
	}
	sort.Strings(names)
	if c := x509text.Closest(s, names); c != "" {
		return c, true
	}
	return "", false
}

// ReasonNames lists the accepted reason names, for hints.
func ReasonNames() string {
	return "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise"
}

// SerialLine is one parsed line of a serials file. Serial holds the
// serial's magnitude big-endian with no leading zero bytes, and aliases the
// caller's scratch buffer: copy it to keep it.
type SerialLine struct {
	Serial  []byte
	Reason  RevocationReason
	HasDate bool
	Date    time.Time
}

const maxSerialBytes = 20 // RFC 5280 4.1.2.2

// ParseSerialLine parses one line of a serials file: a serial (hex by
// default, upper or lower case, optional 0x, optional serial= as OpenSSL's
// -serial prints it, bytes optionally separated by ':', '-' or spaces), then
// optionally a reason name and a date (RFC 3339 or YYYY-MM-DD) in either
// order. Blank lines and # comments give ok=false and no error. With
// decimal the serial is a base-10 integer, as cfssl reads it. scratch is
// reused for the serial's bytes so a million lines allocate nothing.
func ParseSerialLine(line string, decimal bool, scratch []byte) (SerialLine, bool, error) {
	var out SerialLine
	if i := strings.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	var buf [8]string
	fields := splitFields(line, buf[:0])
	if len(fields) == 0 {
		return out, false, nil
	}
	// Trailing reason and date, in either order, each at most once; only
	// while something is left over for the serial.
	var sawReason, sawDate bool
	for len(fields) > 1 {
		last := fields[len(fields)-1]
		if r, ok := ParseReason(last); ok && !sawReason {
			out.Reason, sawReason = r, true
		} else if d, ok := parseRevocationDate(last); ok && !sawDate {
			if d.Year() < 1950 {
				return out, true, fmt.Errorf("revocation date %q is before 1950", last)
			}
			out.Date, out.HasDate, sawDate = d, true, true
		} else if !sawReason && notHex(last) {
			// A word, not a group of hex bytes: a misspelt reason.
			if want, ok := SuggestReason(last); ok {
				return out, true, fmt.Errorf("unknown revocation reason %q: did you mean %s?", last, want)
			}
			if looksLikeWord(last) {
				return out, true, fmt.Errorf("unknown revocation reason %q (reasons: %s)", last, ReasonNames())
			}
			break
		} else if looksLikeWord(last) && !sawReason {
			return out, true, fmt.Errorf("unknown revocation reason %q (reasons: %s)", last, ReasonNames())
		} else if looksLikeDate(last) && !sawDate {
			return out, true, fmt.Errorf("invalid revocation date %q (use RFC 3339 or YYYY-MM-DD)", last)
		} else {
			break
		}
		fields = fields[:len(fields)-1]
	}
	var err error
	if decimal {
		if len(fields) != 1 {
			return out, true, fmt.Errorf("a decimal serial is one number, found %d words", len(fields))
		}
		out.Serial, err = parseDecimalSerial(fields[0], scratch)
	} else {
		out.Serial, err = parseHexSerial(fields, scratch)
	}
	if err != nil {
		return out, true, err
	}
	if len(out.Serial) == 0 {
		return out, true, fmt.Errorf("serial 0 is not a valid certificate serial")
	}
	if len(out.Serial) > maxSerialBytes {
		return out, true, fmt.Errorf("serial is %d bytes long; RFC 5280 allows at most 20", len(out.Serial))
	}
	return out, true, nil
}

// hexValue maps an ASCII byte to its hex digit value, or 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 10
		t[c-'a'+'A'] = byte(c-'a') + 10
	}
	return t
}()

func parseHexSerial(fields []string, scratch []byte) ([]byte, error) {
	s := fields[0]
	if len(fields) > 1 {
		s = strings.Join(fields, " ")
	}
	s, _ = strings.CutPrefix(s, "serial=")
	if strings.HasPrefix(s, "-") {
		return nil, fmt.Errorf("a serial is never negative")
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		s = s[2:]
	}
	// Collect the digits. In the separated form every group is exactly two
	// hex digits, as OpenSSL prints it; anything else is more likely a
	// mistake than a serial.
	digits := scratch[:0]
	group, separated := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if v := hexValue[c]; v != 0xff {
			digits = append(digits, v)
			group++
			continue
		}
		switch {
		case c == ':' || c == '-' || c == ' ':
			if group != 2 {
				return nil, fmt.Errorf("separated bytes must be two hex digits each")
			}
			group, separated = 0, true
		case c >= 0x20 && c < 0x7f:
			return nil, fmt.Errorf("not a hex serial: %q is not a hex digit", string(c))
		default:
			return nil, fmt.Errorf("not a hex serial: byte 0x%02x is not a hex digit", c)
		}
	}
	if separated && group != 2 {
		return nil, fmt.Errorf("separated bytes must be two hex digits each")
	}
	if len(digits) == 0 {
		return nil, fmt.Errorf("no serial on the line")
	}
	// Pack in place, left to right: byte k never overwrites a digit still
	// to be read. An odd digit count has an implicit leading zero.
	out := digits[:(len(digits)+1)/2]
	j, k := 0, 0
	if len(digits)%2 == 1 {
		out[0] = digits[0]
		j, k = 1, 1
	}
	for ; j < len(digits); j, k = j+2, k+1 {
		out[k] = digits[j]<<4 | digits[j+1]
	}
	return trimLeadingZeros(out), nil
}

func parseDecimalSerial(s string, _ []byte) ([]byte, error) {
	if strings.HasPrefix(s, "-") {
		return nil, fmt.Errorf("a serial is never negative")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return nil, fmt.Errorf("%s", pkix.Textf("%q is not a decimal serial (drop %s to read hex)", s, pkix.OptDecimal))
		}
	}
	if len(s) > 60 { // 20 bytes is at most 49 decimal digits; refuse early
		return nil, fmt.Errorf("serial is %d digits long; RFC 5280 allows at most 20 bytes", len(s))
	}
	n, _ := new(big.Int).SetString(s, 10)
	return n.Bytes(), nil
}

func trimLeadingZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func parseRevocationDate(s string) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// looksLikeWord: letters only, and not a plausible hex byte group, so
// "keyCompromize" is reported as a bad reason rather than a bad serial.
func looksLikeWord(s string) bool {
	if len(s) < 4 {
		return false
	}
	nonHex := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
		if !('a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			nonHex = true
		}
	}
	return nonHex
}

// notHex: s has a letter no hex digit uses, so it is no group of serial
// bytes (cheap: checked on every multi-word line of a million-line file).
func notHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c > 'f' && c <= 'z' {
			return true
		}
	}
	return false
}

func looksLikeDate(s string) bool {
	return len(s) >= 8 && s[4] == '-' && strings.Count(s, "-") >= 2 && len(strings.Split(s, "-")[0]) == 4
}

// SerialFromBytes is the integer a parsed serial stands for.
func SerialFromBytes(b []byte) *big.Int { return new(big.Int).SetBytes(b) }

// SerialColons is OpenSSL's colon form, "7F:39:24".
func SerialColons(n *big.Int) string {
	h := x509text.SerialHex(n)
	var b strings.Builder
	if rest, ok := strings.CutPrefix(h, "-"); ok {
		b.WriteByte('-')
		h = rest
	}
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// splitFields is strings.Fields into a caller's array, so the common
// one-word line allocates nothing. Lines with more words than fit are
// split further by append as usual.
func splitFields(s string, dst []string) []string {
	i := 0
	for i < len(s) {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		start := i
		for i < len(s) && !isSpace(s[i]) {
			i++
		}
		if i > start {
			dst = append(dst, s[start:i])
		}
	}
	return dst
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' }
