package crl

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/mtlsctl/mtlsctl/pkix/x509text"
)

func TestParseSerialLineForms(t *testing.T) {
	const want = "7F3924DE0A"
	for _, line := range []string{
		"7F3924DE0A", "7f3924de0a", "0x7F3924DE0A", "0X7f3924de0a", "7F:39:24:DE:0A", "7f-39-24-de-0a",
		"7F 39 24 DE 0A", "00007F3924DE0A", "00:7F:39:24:DE:0A", "serial=7F3924DE0A", "  7F3924DE0A  ",
		"7F3924DE0A # lost laptop", "7F3924DE0A\r",
	} {
		got, ok, err := ParseSerialLine(line, false, nil)
		if err != nil || !ok {
			t.Errorf("%q: ok=%v err=%v", line, ok, err)
			continue
		}
		if h := x509text.SerialHex(SerialFromBytes(got.Serial)); h != want {
			t.Errorf("%q parsed as %s, want %s", line, h, want)
		}
	}
	// the guide's trap: hex read as decimal
	if got, _, _ := ParseSerialLine("07", false, nil); !bytes.Equal(got.Serial, []byte{7}) {
		t.Errorf("07 -> %x", got.Serial)
	}
	if got, _, _ := ParseSerialLine("10", false, nil); !bytes.Equal(got.Serial, []byte{0x10}) {
		t.Errorf("10 must be read as hex 0x10, got %x", got.Serial)
	}
	if got, _, _ := ParseSerialLine("123456789012345678901234567890", true, nil); SerialFromBytes(got.Serial).String() != "123456789012345678901234567890" {
		t.Errorf("decimal: %x", got.Serial)
	}
}

func TestParseSerialLineReasonAndDate(t *testing.T) {
	cases := []struct {
		line   string
		reason RevocationReason
		date   string
	}{
		{"01 keyCompromise", 1, ""},
		{"01 KEYCOMPROMISE 2026-01-02", 1, "2026-01-02T00:00:00Z"},
		{"01 2026-01-02 superseded", 4, "2026-01-02T00:00:00Z"},
		{"01:02 cessationOfOperation 2026-03-04T05:06:07+02:00", 5, "2026-03-04T03:06:07Z"},
		{"0A 0B unspecified", 0, ""},
	}
	for _, tc := range cases {
		got, ok, err := ParseSerialLine(tc.line, false, nil)
		if err != nil || !ok {
			t.Fatalf("%q: %v", tc.line, err)
		}
		if got.Reason != tc.reason {
			t.Errorf("%q: reason %v", tc.line, got.Reason)
		}
		if tc.date != "" && (!got.HasDate || got.Date.Format(time.RFC3339) != tc.date) {
			t.Errorf("%q: date %v", tc.line, got.Date)
		}
	}
}

func TestParseSerialLineRefuses(t *testing.T) {
	for line, want := range map[string]string{
		"0":                      "serial 0",
		"00:00":                  "serial 0",
		"-5":                     "negative",
		"0xZZ":                   `"Z" is not a hex digit`,
		"7F:3:24":                "two hex digits each",
		"7F::24":                 "two hex digits each",
		"7F:39:":                 "two hex digits each",
		strings.Repeat("ab", 21): "21 bytes long",
		"01 keyCompromize":       `unknown revocation reason "keyCompromize"`,
		"01 2026-13-45":          "invalid revocation date",
		"01 removeFromCRL":       "unknown revocation reason",
		"serial=":                "no serial",
		"12 34":                  "",
	} {
		_, _, err := ParseSerialLine(line, false, nil)
		if want == "" {
			if err != nil {
				t.Errorf("%q: unexpected error %v", line, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", line, err, want)
		}
	}
	if _, _, err := ParseSerialLine("7F", true, nil); err == nil {
		t.Error("--decimal accepted hex")
	}
	for _, blank := range []string{"", "   ", "# comment", "  # x"} {
		if _, ok, err := ParseSerialLine(blank, false, nil); ok || err != nil {
			t.Errorf("%q: ok=%v err=%v", blank, ok, err)
		}
	}
}

// Every accepted line stands for one integer, and writing that integer in
// any accepted form reads back as the same integer.
func FuzzParseSerialLine(f *testing.F) {
	for _, s := range []string{"7F3924DE0A", "7f:39:24", "0x01", "serial=00FF", "01 keyCompromise 2026-01-02",
		"123", "-1", "0", "7F 39 24 superseded", "ab-cd", "# c", "ff" + strings.Repeat("00", 19)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, decimal bool) {
		got, ok, err := ParseSerialLine(line, decimal, make([]byte, 0, 8))
		if err != nil || !ok {
			return
		}
		n := SerialFromBytes(got.Serial)
		if n.Sign() <= 0 || len(got.Serial) > 20 || (len(got.Serial) > 0 && got.Serial[0] == 0) {
			t.Fatalf("%q accepted as %x", line, got.Serial)
		}
		for _, form := range []string{x509text.SerialHex(n), strings.ToLower(x509text.SerialHex(n)), SerialColons(n), "0x" + n.Text(16)} {
			back, ok, err := ParseSerialLine(form, false, nil)
			if err != nil || !ok || SerialFromBytes(back.Serial).Cmp(n) != 0 {
				t.Fatalf("%q -> %x; form %q -> %x, %v", line, n, form, back.Serial, err)
			}
		}
		if back, _, err := ParseSerialLine(n.String(), true, nil); err != nil || SerialFromBytes(back.Serial).Cmp(n) != 0 {
			t.Fatalf("decimal form of %x: %v", n, err)
		}
		if !decimal {
			// Plain hex lines agree with big.Int's own parser.
			plain := strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(line), "0x"), "0X")
			if want, ok := new(big.Int).SetString(plain, 16); ok && want.Cmp(n) != 0 {
				t.Fatalf("%q: %x, big.Int says %x", line, n, want)
			}
		}
	})
}
