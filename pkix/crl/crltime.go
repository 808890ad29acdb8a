package crl

import (
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

func readASN1Time(s *cryptobyte.String, t *time.Time) bool {
	if s.PeekASN1Tag(cbasn1.UTCTime) {
		return s.ReadASN1UTCTime(t)
	}
	return s.ReadASN1GeneralizedTime(t)
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
