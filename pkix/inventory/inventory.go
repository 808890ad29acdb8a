package inventory

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/pemutil"
	"github.com/mtlsctl/mtlsctl/pkix/x509text"
	"io/fs"
	"os"
	"strings"
	"time"
)

// The inventory is the record of every certificate mtlsctl issued in a
// PKI directory: one tab-separated line per certificate, in issue order.
// It is append-only: a change of status (revoked, superseded) is a new
// full line for the same serial, and the last line of a serial is its
// state. So every write is an append of a few lines whatever the size of
// the fleet, a git diff shows each change as added lines, and the file is
// compacted (one line per serial) now and then by the directory type.

// RecordStatus is where a recorded certificate stands.
type RecordStatus string

const (
	StatusValid      RecordStatus = "valid"
	StatusRevoked    RecordStatus = "revoked"
	StatusSuperseded RecordStatus = "superseded" // renewed under the same name; no longer counts
)

// Kind is what a recorded certificate is.
type Kind string

const (
	KindRoot         Kind = "root"
	KindIntermediate Kind = "intermediate"
	KindClient       Kind = "client"
)

// IsCA reports whether the kind signs certificates.
func (k Kind) IsCA() bool { return k == KindRoot || k == KindIntermediate }

var inventoryColumns = []string{"serial", "status", "kind", "cn", "not_before", "not_after", "profile", "issuer", "sha256", "name", "revoked_at", "reason", "subject", "pubkey_sha256", "key", "key_identity"}

// inventories written before the public key column have two columns
// less, before the key column one, before the key identity column
// three; a missing column reads as empty (for the key identity: filled
// in from the certificate file where it is needed, pkidir.keyIdentities).
const oldInventoryColumns = 13

// InventoryHeader starts every inventory file.
func InventoryHeader() []byte {
	return []byte("# mtlsctl inventory: every certificate issued in this directory, tab-separated.\n" +
		"# Append-only: a later line for a serial replaces its earlier state. Written by mtlsctl under a lock; keep it in git.\n" +
		"# Times are UTC (RFC 3339).\n" +
		"# " + strings.Join(inventoryColumns, "\t") + "\n")
}

// Record is one issued certificate.
type Record struct {
	Serial       string       `json:"serial"` // uppercase hex, as Access's certSerial
	Status       RecordStatus `json:"status"`
	Kind         Kind         `json:"kind"`
	CN           string       `json:"cn"`
	NotBefore    time.Time    `json:"not_before"`
	NotAfter     time.Time    `json:"not_after"`
	Profile      string       `json:"profile"`
	Issuer       string       `json:"issuer"` // base name of the issuing CA's files, e.g. "ca"
	SHA256       string       `json:"sha256"`
	Name         string       `json:"name"` // base name of the certificate's files
	RevokedAt    time.Time    `json:"revoked_at,omitzero"`
	Reason       string       `json:"reason,omitempty"`
	Subject      string       `json:"subject"`
	PublicKeySHA string       `json:"public_key_sha256,omitempty"` // SHA-256 of the SubjectPublicKeyInfo
	// KeyHeld is where the private key is: KeyOnDevice when the
	// certificate was signed from the device's own request (no key here),
	// "" when mtlsctl made the key beside the certificate.
	KeyHeld string `json:"key_held,omitempty"`
	// KeyIdentity names the key itself (KeyIdentity: an RSA modulus,
	// an EC point), so that one key under two encodings or two RSA
	// exponents is seen as one.
	KeyIdentity string `json:"key_identity,omitempty"`
}

// KeyOnDevice marks a certificate signed from a request: its key never
// was in the directory.
const KeyOnDevice = "device"

// RecordOf describes a certificate just issued.
type RecordOf struct {
	Cert    *x509.Certificate
	Kind    Kind
	Profile string
	Issuer  string
	Name    string
}

// Record builds the inventory line of a new certificate.
func (o RecordOf) Record() Record {
	c := o.Cert
	subject := x509text.SubjectDN(c)
	return Record{Serial: x509text.SerialHex(c.SerialNumber), Status: StatusValid, Kind: o.Kind, CN: c.Subject.CommonName,
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), Profile: o.Profile, Issuer: o.Issuer,
		SHA256: x509text.FingerprintSHA256(c), Name: o.Name, Subject: subject, PublicKeySHA: PublicKeySHA256(c), KeyIdentity: pemutil.CertKeyIdentity(c)}
}

// PublicKeySHA256 is the hex SHA-256 of a certificate's
// SubjectPublicKeyInfo: the same key in two certificates (or in a CSR)
// has the same value.
func PublicKeySHA256(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// Inventory is the parsed inventory of a directory: one record per
// serial, in the order serials first appeared, each in its latest state.
type Inventory struct {
	Path    string
	Records []Record
	// Lines is how many record lines the file holds; more than
	// len(Records) means changes were appended and a compaction would
	// shorten it.
	Lines   int
	serials map[string]int
}

// ReadInventoryFile reads an inventory; a missing file is an empty one.
func ReadInventoryFile(path string) (*Inventory, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Inventory{Path: path, serials: map[string]int{}}, nil
	} else if err != nil {
		return nil, &pkix.Error{File: path, Msg: fmt.Sprintf("cannot read: %v", atomicfile.UnwrapPathError(err)), Err: err}
	}
	if len(data) == 0 {
		// mtlsctl never writes an empty inventory (it starts with its
		// header): this one was truncated, and must not start afresh.
		return nil, &pkix.Error{File: path, Msg: "is empty (truncated?)", Hint: "restore it from git; remove it only if this directory never issued anything"}
	}
	return ParseInventory(path, data)
}

// ParseInventory parses the inventory format.
func ParseInventory(path string, data []byte) (*Inventory, error) {
	if err := CheckInventoryStart(path, data); err != nil {
		return nil, err
	}
	inv := &Inventory{Path: path, serials: map[string]int{}}
	err := eachInventoryLine(data, func(lineNo int, line []byte) error {
		r, err := parseInventoryLine(path, lineNo, line)
		if err != nil {
			return err
		}
		inv.Lines++
		if i, ok := inv.serials[r.Serial]; ok {
			old := &inv.Records[i]
			if err := sameCertificate(path, lineNo, old, &r); err != nil {
				return err
			}
			*old = r
			return nil
		}
		inv.serials[r.Serial] = len(inv.Records)
		inv.Records = append(inv.Records, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// sameCertificate: a later line for a serial may change its state, never
// which certificate it is.
func sameCertificate(path string, line int, old, r *Record) error {
	if old.Kind != r.Kind || old.Issuer != r.Issuer || old.SHA256 != r.SHA256 {
		return &pkix.Error{File: path, Line: line, Msg: fmt.Sprintf("serial %s is recorded twice for different certificates", r.Serial),
			Hint: "restore the inventory from git if it was edited by hand"}
	}
	return nil
}

// eachInventoryLine calls fn with every record line (comments and blank
// lines skipped), without copying the file.
func eachInventoryLine(data []byte, fn func(lineNo int, line []byte) error) error {
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			line, data = data, nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 || line[0] == '#' {
			continue
		}
		if err := fn(lineNo, line); err != nil {
			return err
		}
	}
	return nil
}

func parseInventoryLine(path string, lineNo int, line []byte) (Record, error) {
	f := strings.Split(string(line), "\t")
	for len(f) >= oldInventoryColumns && len(f) < len(inventoryColumns) {
		f = append(f, "-")
	}
	if len(f) != len(inventoryColumns) {
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: fmt.Sprintf("has %d columns, want %d", len(f), len(inventoryColumns)),
			Hint: "the inventory is tab-separated; restore it from git if it was edited by hand"}
	}
	for i := range f {
		f[i] = unescapeField(f[i])
	}
	r := Record{Serial: f[0], Status: RecordStatus(f[1]), Kind: Kind(f[2]), CN: f[3], Profile: f[6], Issuer: f[7], SHA256: f[8],
		Name: f[9], Reason: f[11], Subject: f[12], PublicKeySHA: f[13], KeyHeld: f[14], KeyIdentity: f[15]}
	var perr error
	parse := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339, s)
		if err != nil && perr == nil {
			perr = err
		}
		return t
	}
	r.NotBefore, r.NotAfter, r.RevokedAt = parse(f[4]), parse(f[5]), parse(f[10])
	if perr != nil {
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: "bad date: " + perr.Error()}
	}
	switch r.Status {
	case StatusValid, StatusRevoked, StatusSuperseded:
	default:
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: fmt.Sprintf("unknown status %q", r.Status), Hint: "valid, revoked or superseded"}
	}
	if r.KeyHeld != "" && r.KeyHeld != KeyOnDevice {
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: fmt.Sprintf("unknown key place %q", r.KeyHeld), Hint: "- (made here) or device"}
	}
	switch r.Kind {
	case KindRoot, KindIntermediate, KindClient:
	default:
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: fmt.Sprintf("unknown kind %q", r.Kind), Hint: "root, intermediate or client"}
	}
	if r.Serial == "" {
		return Record{}, &pkix.Error{File: path, Line: lineNo, Msg: "the serial is empty", Hint: "restore the inventory from git if it was edited by hand"}
	}
	return r, nil
}

// Has reports whether a serial (uppercase hex) is recorded.
func (inv *Inventory) Has(serial string) bool {
	_, ok := inv.serials[serial]
	return ok
}

// Lookup returns the record of a serial.
func (inv *Inventory) Lookup(serial string) (*Record, bool) {
	i, ok := inv.serials[serial]
	if !ok {
		return nil, false
	}
	return &inv.Records[i], true
}

// Bytes renders the inventory compacted: one line per serial.
func (inv *Inventory) Bytes() []byte {
	b := InventoryHeader()
	for i := range inv.Records {
		b = AppendInventoryLine(b, &inv.Records[i])
	}
	return b
}

// AppendInventoryLine renders one record as a line.
func AppendInventoryLine(b []byte, r *Record) []byte {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "" // written "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	f := []string{r.Serial, string(r.Status), string(r.Kind), r.CN, ts(r.NotBefore), ts(r.NotAfter), r.Profile, r.Issuer, r.SHA256, r.Name, ts(r.RevokedAt), r.Reason, r.Subject, r.PublicKeySHA, r.KeyHeld, r.KeyIdentity}
	for i := range f {
		f[i] = escapeField(f[i])
	}
	b = append(b, strings.Join(f, "\t")...)
	return append(b, '\n')
}

// FindInventory returns, in their latest state, the records whose line
// contains needle, without parsing the rest of the file: a lookup by
// serial or name in a 100,000-certificate inventory costs a memory scan,
// not 100,000 parsed records.
func FindInventory(path string, data []byte, needle string, keep func(*Record) bool) ([]Record, error) {
	if err := CheckInventoryStart(path, data); err != nil {
		return nil, err
	}
	var out []Record
	at := map[string]int{}
	pos := 0
	for {
		i := bytes.Index(data[pos:], []byte(needle))
		if i < 0 {
			break
		}
		i += pos
		if needle[0] == '\n' {
			i++ // the match is on the line after that newline
		}
		start := bytes.LastIndexByte(data[:i], '\n') + 1
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += i
		}
		pos = end
		line := bytes.TrimSuffix(data[start:end], []byte("\r"))
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		r, err := parseInventoryLine(path, 0, line)
		if err != nil {
			// Counting lines costs a pass over the file: only for the message.
			if pe, ok := err.(*pkix.Error); ok {
				pe.Line = bytes.Count(data[:start], []byte("\n")) + 1
			}
			return nil, err
		}
		if k, ok := at[r.Serial]; ok {
			out[k] = r
		} else if keep(&r) {
			at[r.Serial] = len(out)
			out = append(out, r)
		}
		if pos >= len(data) {
			break
		}
	}
	// A later line may have changed a record so that keep no longer
	// holds; keep decides on the latest state.
	kept := out[:0]
	for _, r := range out {
		if keep(&r) {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// InventoryLine is one record line's raw fields, for scans that must not
// allocate a record per line (a CRL build's cross-check).
type InventoryLine struct {
	Serial, Status, Kind, CN, Issuer, Name []byte
	Line                                   []byte // the whole line, for ParseLine
	LineNo                                 int
}

// ParseLine parses a line ScanInventory gave, into a record.
func (l InventoryLine) ParseLine(path string) (Record, error) {
	return parseInventoryLine(path, l.LineNo, l.Line)
}

// ScanInventory calls fn with the raw key fields of every record line, in
// file order (so a serial's last call is its state).
func ScanInventory(path string, data []byte, fn func(InventoryLine)) error {
	if err := CheckInventoryStart(path, data); err != nil {
		return err
	}
	return eachInventoryLine(data, func(lineNo int, line []byte) error {
		// One pass: the first ten fields are cut out, then the tabs of the
		// rest are counted, so a torn or hand-cut line is still caught.
		var f [10][]byte
		rest, tabs := line, 0
		for k := range f {
			i := bytes.IndexByte(rest, '\t')
			if i < 0 {
				f[k], rest = rest, nil
				break
			}
			f[k], rest, tabs = rest[:i], rest[i+1:], tabs+1
		}
		if rest != nil {
			tabs += bytes.Count(rest, []byte{'\t'})
		}
		if tabs < oldInventoryColumns-1 || tabs > len(inventoryColumns)-1 {
			return &pkix.Error{File: path, Line: lineNo, Msg: fmt.Sprintf("has %d columns, want %d", tabs+1, len(inventoryColumns)),
				Hint: "the inventory is tab-separated; restore it from git if it was edited by hand"}
		}
		fn(InventoryLine{Serial: f[0], Status: f[1], Kind: f[2], CN: f[3], Issuer: f[7], Name: f[9], Line: line, LineNo: lineNo})
		return nil
	})
}

func escapeField(s string) string {
	switch s {
	case "":
		return "-"
	case "-": // a value that is one dash, told apart from "empty"
		return `\-`
	}
	if !strings.ContainsAny(s, "\\\t\n\r") {
		return s
	}
	return fieldEscaper.Replace(s)
}

// The replacers are built once (building one costs more than a line).
var (
	fieldEscaper   = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)
	fieldUnescaper = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r")
)

func unescapeField(s string) string {
	switch s {
	case "-":
		return ""
	case `\-`:
		return "-"
	}
	if !strings.Contains(s, `\`) {
		return s
	}
	return fieldUnescaper.Replace(s)
}

// EscapeInventoryField is how a value appears in the file, for scans
// that look for it (FindInventory's needle).
func EscapeInventoryField(s string) string { return escapeField(s) }
