package crl

import (
	"bufio"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"io"
	"time"
	"unicode/utf8"
	"unsafe"
)

// ReadSerials streams a serials file into b. The first bad line stops it
// with an error naming file:line and quoting the line; nothing about the
// file is held in memory beyond the DER entries.
func ReadSerials(r io.Reader, file string, decimal bool, now time.Time, b *CRLBuilder) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	scratch := make([]byte, 0, 128)
	line := 0
	for sc.Scan() {
		line++
		// A view of the scanner's buffer, not a copy: nothing below keeps
		// it past this iteration (errors quote it into new strings), and it
		// saves an allocation per line on million-line files.
		raw := sc.Bytes()
		text := unsafe.String(unsafe.SliceData(raw), len(raw))
		if line == 1 && len(text) >= 3 && text[:3] == "\xef\xbb\xbf" { // a BOM from an editor
			text = text[3:]
		}
		if !utf8.ValidString(text) {
			return &pkix.Error{File: file, Line: line, Msg: "line is not valid text (binary file?)",
				Hint: "the serials file is text: one hex serial per line"}
		}
		parsed, ok, err := ParseSerialLine(text, decimal, scratch)
		if err != nil {
			// The line itself is not quoted: a file given by mistake (a
			// password, a key) must not end up in a CI log. file:line
			// finds it.
			e := &pkix.Error{File: file, Line: line, Msg: err.Error()}
			if !decimal && isDecimalOnly(text) {
				e.WithNext("serials are read as hex; if this list came from cfssl's decimal output, pass %s", pkix.OptDecimal)
			}
			return e
		}
		if !ok {
			continue
		}
		if parsed.HasDate && parsed.Date.After(now.Add(24*time.Hour)) {
			return &pkix.Error{File: file, Line: line, Msg: fmt.Sprintf("revocation date %s is in the future", parsed.Date.Format("2006-01-02"))}
		}
		if len(b.entries) > maxEntryBytes {
			return &pkix.Error{File: file, Line: line, Msg: "too many serials for one CRL (the list passed 4 GiB)", Hint: "split the CA's revocations, or rotate the CA"}
		}
		b.Add(parsed.Serial, parsed.Reason, parsed.Date, line)
	}
	if err := sc.Err(); err != nil {
		if err == bufio.ErrTooLong {
			return &pkix.Error{File: file, Line: line + 1, Msg: "line is longer than 64 KiB", Hint: "one serial per line"}
		}
		return &pkix.Error{File: file, Msg: "cannot read: " + err.Error()}
	}
	return nil
}

func isDecimalOnly(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// maxEntryBytes keeps entry offsets within their uint32 (about 100
// million serials).
const maxEntryBytes = 1<<32 - 1024
