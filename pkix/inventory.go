package pkix

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// InventoryFile is the record of every certificate mtlsctl issued in a
// PKI directory: one tab-separated line per certificate, in issue order,
// so it appends cleanly and diffs well in git.
const InventoryFile = "inventory.tsv"

var inventoryColumns = []string{"serial", "status", "kind", "cn", "not_before", "not_after", "profile", "issuer", "sha256", "name", "revoked_at", "reason", "subject"}

// Record is one issued certificate.
type Record struct {
	Serial    string    `json:"serial"` // uppercase hex, as Access's certSerial
	Status    string    `json:"status"` // valid | revoked
	Kind      string    `json:"kind"`   // root | intermediate | client
	CN        string    `json:"cn"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	Profile   string    `json:"profile"`
	Issuer    string    `json:"issuer"` // base name of the issuing CA's files, e.g. "ca"
	SHA256    string    `json:"sha256"`
	Name      string    `json:"name"` // base name of the certificate's files
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	Subject   string    `json:"subject"`
}

// NewRecord describes a certificate just issued.
func NewRecord(c *x509.Certificate, kind, profile, issuer, name string) Record {
	subject, err := DNRFC2253(c.RawSubject)
	if err != nil {
		subject = c.Subject.String()
	}
	return Record{Serial: SerialHex(c.SerialNumber), Status: "valid", Kind: kind, CN: c.Subject.CommonName,
		NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(), Profile: profile, Issuer: issuer,
		SHA256: FingerprintSHA256(c), Name: name, Subject: subject}
}

// Inventory is the parsed inventory of a directory.
type Inventory struct {
	Path    string
	Records []Record
	serials map[string]int
}

// ReadInventory reads DIR/inventory.tsv; a directory without one has an
// empty inventory.
func ReadInventory(dir string) (*Inventory, error) {
	path := filepath.Join(dir, InventoryFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Inventory{Path: path, serials: map[string]int{}}, nil
	} else if err != nil {
		return nil, errorf(path, "cannot read: %v", unwrapPathError(err))
	}
	return ParseInventory(path, data)
}

// ParseInventory parses the inventory format.
func ParseInventory(path string, data []byte) (*Inventory, error) {
	inv := &Inventory{Path: path, serials: map[string]int{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Split(text, "\t")
		if len(f) != len(inventoryColumns) {
			return nil, &Error{File: inv.Path, Line: line, Msg: fmt.Sprintf("has %d columns, want %d", len(f), len(inventoryColumns)),
				Hint: "the inventory is tab-separated; restore it from git if it was edited by hand"}
		}
		for i := range f {
			f[i] = unescapeField(f[i])
		}
		r := Record{Serial: f[0], Status: f[1], Kind: f[2], CN: f[3], Profile: f[6], Issuer: f[7], SHA256: f[8], Name: f[9], Reason: f[11], Subject: f[12]}
		var perr error
		parse := func(s string) time.Time {
			if s == "" || s == "-" {
				return time.Time{}
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil && perr == nil {
				perr = err
			}
			return t
		}
		r.NotBefore, r.NotAfter, r.RevokedAt = parse(f[4]), parse(f[5]), parse(f[10])
		if r.Reason == "-" {
			r.Reason = ""
		}
		if perr != nil {
			return nil, &Error{File: inv.Path, Line: line, Msg: "bad date: " + perr.Error()}
		}
		if r.Serial == "" || r.Serial == "-" || inv.Has(r.Serial) {
			return nil, &Error{File: inv.Path, Line: line, Msg: fmt.Sprintf("serial %q is empty or recorded twice", r.Serial),
				Hint: "restore the inventory from git if it was edited by hand"}
		}
		inv.add(r)
	}
	if err := sc.Err(); err != nil {
		return nil, &Error{File: inv.Path, Msg: "cannot read: " + err.Error()}
	}
	return inv, nil
}

func (inv *Inventory) add(r Record) {
	inv.serials[r.Serial] = len(inv.Records)
	inv.Records = append(inv.Records, r)
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

// Append records new certificates, refusing a serial already recorded.
func (inv *Inventory) Append(rs ...Record) error {
	for _, r := range rs {
		if inv.Has(r.Serial) {
			return errorf(inv.Path, "serial %s is already recorded", r.Serial)
		}
		inv.add(r)
	}
	return nil
}

// Bytes renders the inventory.
func (inv *Inventory) Bytes() []byte {
	var b bytes.Buffer
	b.WriteString("# mtlsctl inventory: every certificate issued in this directory, one per line, tab-separated.\n")
	b.WriteString("# Written by mtlsctl under a lock; keep it in git. Times are UTC (RFC 3339).\n")
	b.WriteString("# " + strings.Join(inventoryColumns, "\t") + "\n")
	for _, r := range inv.Records {
		ts := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format(time.RFC3339)
		}
		reason := r.Reason
		if reason == "" {
			reason = "-"
		}
		f := []string{r.Serial, r.Status, r.Kind, r.CN, ts(r.NotBefore), ts(r.NotAfter), r.Profile, r.Issuer, r.SHA256, r.Name, ts(r.RevokedAt), reason, r.Subject}
		for i := range f {
			f[i] = escapeField(f[i])
		}
		b.WriteString(strings.Join(f, "\t"))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Save writes the inventory atomically.
func (inv *Inventory) Save() error {
	_, err := WriteFiles([]File{{Path: inv.Path, Data: inv.Bytes(), Mode: ModePublic, Kind: "inventory", Replace: true}}, false)
	return err
}

func escapeField(s string) string {
	if s == "" {
		return "-"
	}
	return strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(s)
}

func unescapeField(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(s)
}

// DirLock serialises mtlsctl processes that change one PKI directory
// (parallel CI jobs issuing into it): gofrs/flock's flock(2) lock, taken on
// the directory itself, so no lock file is ever left behind.
type DirLock struct{ fl *flock.Flock }

// LockDir waits (up to timeout) for the directory's lock.
func LockDir(dir string, timeout time.Duration) (*DirLock, error) {
	fl := flock.New(dir, flock.SetFlag(os.O_RDONLY))
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ok, err := fl.TryLockContext(ctx, 20*time.Millisecond)
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		return nil, errorf(dir, "cannot lock the directory: %v", err).
			withHint("another mtlsctl is working in it; try again when it is done")
	}
	return &DirLock{fl: fl}, nil
}

// Unlock releases the lock.
func (l *DirLock) Unlock() { l.fl.Unlock() }

// Supersede marks the valid records that new certificates replace under
// the same file name "superseded": a renewal must not leave the expiry
// gate failing on the certificate it replaced.
func (inv *Inventory) Supersede(newer ...Record) {
	for _, n := range newer {
		for i := range inv.Records {
			r := &inv.Records[i]
			if r.Name == n.Name && r.Kind == n.Kind && r.Status == "valid" {
				r.Status = "superseded"
			}
		}
	}
}
