package cfsslconf

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"io"
	"strings"
	"unicode/utf8"
)

// decodeStrictJSON decodes data into v, refusing unknown fields (a typo
// such as "usage" for "usages" would otherwise be silently ignored by cfssl)
// and trailing data, and turning encoding/json's byte offsets into the
// line:column a person can jump to.
func decodeStrictJSON(file string, data []byte, v any) error {
	// Editors on Windows add a byte order mark; it is not JSON, but it is
	// not the user's mistake either. Blank it so columns stay right.
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		data = append([]byte("   "), data[3:]...)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return pkix.Errorf(file, "file is empty").WithHint("it must hold one JSON object; see examples/ for the guide's files")
	}
	// encoding/json turns invalid UTF-8 into U+FFFD without a word: a CN
	// would silently become another name.
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			off += n
		}
		line, col := lineCol(data, off)
		return &pkix.Error{File: file, Line: line, Col: col, Msg: "is not valid UTF-8", Hint: "save the file as UTF-8"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(file, data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		line, col := lineCol(data, int(dec.InputOffset()))
		return &pkix.Error{File: file, Line: line, Col: col, Msg: "unexpected data after the JSON object",
			Hint: "a file holds exactly one JSON object"}
	}
	return nil
}

func jsonError(file string, data []byte, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the offending byte itself.
		line, col := lineCol(data, max(int(syn.Offset)-1, 0))
		msg := syn.Error()
		if rest, ok := strings.CutPrefix(msg, "invalid character "); ok {
			msg = "unexpected " + rest
		}
		e := &pkix.Error{File: file, Line: line, Col: col, Msg: "invalid JSON: " + msg, Err: err}
		if strings.Contains(msg, "after object key:value pair") || strings.Contains(msg, "after array element") {
			e.Hint = "a comma is probably missing at the end of the previous line"
		}
		return e
	case errors.Is(err, io.ErrUnexpectedEOF):
		line, col := lineCol(data, len(data))
		return &pkix.Error{File: file, Line: line, Col: col, Msg: "invalid JSON: unexpected end of file", Hint: "a closing } or ] is missing", Err: err}
	case errors.As(err, &typ):
		line, col := lineCol(data, int(typ.Offset))
		return &pkix.Error{File: file, Line: line, Col: col, Field: typ.Field,
			Msg: fmt.Sprintf("expected %s, found JSON %s", jsonTypeName(typ.Type.String()), typ.Value), Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		line, col := findKey(data, strings.Trim(name, `"`))
		return &pkix.Error{File: file, Line: line, Col: col, Msg: "unknown field " + name,
			Hint: "check the spelling; cfssl would silently ignore this field", Err: err}
	}
	return &pkix.Error{File: file, Msg: "invalid JSON: " + err.Error(), Err: err}
}

func jsonTypeName(goType string) string {
	switch {
	case goType == "string":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "bool":
		return "true or false"
	}
	return "an object"
}

// lineCol converts a byte offset into a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := off - bytes.LastIndexByte(before, '\n')
	return line, col
}

// findKey locates the first occurrence of "key" used as an object key, so an
// unknown-field error can still name a line.
func findKey(data []byte, key string) (int, int) {
	i := bytes.Index(data, []byte(`"`+key+`"`))
	if i < 0 {
		return 0, 0
	}
	return lineCol(data, i)
}
