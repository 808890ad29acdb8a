package pkix

import (
	"fmt"
	"strings"
)

// Error is an input problem that can be pinned to a place: a file, and
// where known a line and column or a JSON field. Hint says how to fix it
// when the fix is knowable: in words, with a %s for each of HintArgs where
// it names a command or flag (see Text). Every error pkix returns for bad input is an
// *Error, so the CLI can print it as one line plus a hint.
type Error struct {
	File     string // as the user named it; "" when not about a file
	Line     int    // 1-based; 0 when unknown
	Col      int    // 1-based; 0 when unknown
	Field    string // JSON path such as signing.profiles.client.usages
	Msg      string
	Hint     string
	HintArgs []any
	Err      error // underlying cause, for errors.Is/As
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

func Errorf(file, format string, args ...any) *Error {
	return &Error{File: file, Msg: fmt.Sprintf(format, args...)}
}

func (e *Error) WithHint(format string, args ...any) *Error {
	e.Hint = fmt.Sprintf(format, args...)
	return e
}

// WithNext sets a hint that names commands or flags (see Text).
func (e *Error) WithNext(format string, args ...any) *Error {
	e.Hint, e.HintArgs = format, args
	return e
}

func (e *Error) WithText(t Text) *Error { return e.WithNext(t.Format, t.Args...) }

func (e *Error) WithField(field string) *Error {
	e.Field = field
	return e
}
