package commands

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// printAPIJSON prints an API command's document. Strings in it come from
// Cloudflare's API (IDs, names, hostnames, messages): encoding/json
// escapes C0 controls but writes DEL, C1 controls (U+009B is a CSI to
// some terminals) and bidi overrides raw, so those are written as \u
// escapes too. The document decodes to the same strings: the escaping is
// JSON's own, once.
func (u *ui) printAPIJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := u.out.Write(escapeUnprintableJSON(buf.Bytes()))
	return err
}

// escapeUnprintableJSON rewrites every rune of encoded JSON that is not
// printable as a \u escape. Outside strings JSON holds only ASCII
// punctuation, digits, letters, spaces and newlines, so every other such
// rune is inside a string, where a \u escape means the same rune.
func escapeUnprintableJSON(data []byte) []byte {
	var out bytes.Buffer
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == '\n' || r == ' ' || (r != utf8.RuneError && unicode.IsPrint(r)):
			out.Write(data[:size])
		case r > 0xffff:
			a, b := utf16.EncodeRune(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, a, b)
		default:
			fmt.Fprintf(&out, `\u%04x`, r) // the encoder already made invalid UTF-8 U+FFFD
		}
		data = data[size:]
	}
	return out.Bytes()
}
