package crl

import (
	"encoding/base64"
	"io"
)

func newBase64Encoder(w io.Writer) io.WriteCloser {
	return base64.NewEncoder(base64.StdEncoding, w)
}

// lineWrapper breaks a base64 stream into PEM's 64-column lines.
type lineWrapper struct {
	w   io.Writer
	col int
}

func (l *lineWrapper) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		take := min(64-l.col, len(p))
		m, err := l.w.Write(p[:take])
		n += m
		if err != nil {
			return n, err
		}
		l.col += take
		p = p[take:]
		if l.col == 64 {
			if _, err := l.w.Write([]byte{'\n'}); err != nil {
				return n, err
			}
			l.col = 0
		}
	}
	return n, nil
}
