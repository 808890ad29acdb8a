package inventory

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/crl"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Match finds the client records a name designates: its CN or its file
// base name. Superseded certificates (renewed under the same name) are
// left out; --serial still reaches them.
func (inv *Inventory) Match(name string) []*Record {
	var out []*Record
	for i := range inv.Records {
		r := &inv.Records[i]
		if r.Kind == KindClient && r.Status != StatusSuperseded && (r.CN == name || r.Name == name) {
			out = append(out, r)
		}
	}
	return out
}

// Revoke marks a record revoked; it reports false when it already was.
func (r *Record) Revoke(reason crl.RevocationReason, at time.Time) bool {
	if r.Status == StatusRevoked {
		return false
	}
	r.Status = StatusRevoked
	r.RevokedAt = at.UTC().Truncate(time.Second)
	if reason != 0 {
		r.Reason = reason.String()
	}
	return true
}

// AppendSerials adds revoked serials to a serials file (the guide's
// serials.txt, read by crl build), in hex with reason and date, skipping
// serials it already lists. It returns the new content and how many were
// added; the caller writes it atomically.
func AppendSerials(path string, entries []SerialEntry) ([]byte, int, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, pkix.Errorf(path, "cannot read: %v", atomicfile.UnwrapPathError(err))
	}
	listed := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 64*1024)
	line := 0
	for sc.Scan() {
		line++
		parsed, ok, err := crl.ParseSerialLine(sc.Text(), false, nil)
		if err != nil {
			return nil, 0, &pkix.Error{File: path, Line: line, Msg: err.Error(), Hint: "fix the line; mtlsctl appends to this file"}
		}
		if ok {
			listed[x509text.SerialHex(crl.SerialFromBytes(parsed.Serial))] = true
		}
	}
	out := bytes.Clone(data)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	added := 0
	for _, e := range entries {
		if listed[e.Serial] {
			continue
		}
		listed[e.Serial] = true
		fields := []string{e.Serial}
		if e.Reason != 0 {
			fields = append(fields, e.Reason.String())
		}
		fields = append(fields, e.At.UTC().Format(time.RFC3339))
		line := strings.Join(fields, " ")
		if e.Comment != "" {
			line += "  # " + strings.ReplaceAll(e.Comment, "\n", " ")
		}
		out = append(out, line...)
		out = append(out, '\n')
		added++
	}
	return out, added, nil
}

// SerialEntry is one line AppendSerials writes.
type SerialEntry struct {
	Serial  string
	Reason  crl.RevocationReason
	At      time.Time
	Comment string
}

// FormatRecord is a record as one readable line, for messages.
func FormatRecord(r *Record) string {
	return fmt.Sprintf("%s (CN=%s, serial %s, %s)", r.Name, r.CN, r.Serial, r.Status)
}
