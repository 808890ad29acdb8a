package pkidir

import (
	"errors"
	"io/fs"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// ReadInventory parses the whole inventory, for commands that need all of
// it (list, check). Operations on one certificate use Find instead.
func (d *Dir) ReadInventory() (*inventory.Inventory, error) {
	return inventory.ReadInventoryFile(d.Inventory())
}

type appendTarget struct {
	size            int64
	endsWithNewline bool
}

// inventoryForAppend checks the inventory can be appended to: absent, or
// a regular file in the directory. A symlinked inventory is refused: the
// record of a CA is not something a planted link may redirect.
func (s *Session) inventoryForAppend() (appendTarget, error) {
	path := s.d.Inventory()
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return appendTarget{endsWithNewline: true}, nil
	} else if err != nil {
		return appendTarget{}, s.d.ioError(path, "cannot read", err)
	}
	if !info.Mode().IsRegular() {
		return appendTarget{}, &pkix.Error{File: path, Msg: "is not a regular file (a symlink?); mtlsctl appends to it and will not follow it",
			Hint: "replace the link with the file itself (keep it in git rather than linking it)"}
	}
	if info.Size() == 0 {
		return appendTarget{}, &pkix.Error{File: path, Msg: "is empty (truncated?); a truncated inventory must not start afresh",
			Hint: "restore it from git; remove it only if this directory never issued anything"}
	}
	t := appendTarget{size: info.Size(), endsWithNewline: true}
	// (A journal repairs a torn append of ours; an inventory that ends
	// mid-line was cut by something else, and appending would glue a new
	// record to half an old one.)
	if t.size > 0 {
		f, err := os.Open(path)
		if err != nil {
			return appendTarget{}, s.d.ioError(path, "cannot read", err)
		}
		defer f.Close()
		var last [1]byte
		if _, err := f.ReadAt(last[:], t.size-1); err != nil {
			return appendTarget{}, s.d.ioError(path, "cannot read", err)
		}
		t.endsWithNewline = last[0] == '\n'
		// A record appended after a byte-order mark is one no reader
		// can find: refuse, and say why.
		var head [4]byte
		n, _ := f.ReadAt(head[:], 0)
		if err := inventory.CheckInventoryStart(path, head[:n]); err != nil {
			return appendTarget{}, err
		}
	}
	return t, nil
}

// inventoryData is the inventory's bytes, or none for a directory
// without one. One operation looks things up in it several times (the
// record, then whether the CRL is behind): it is read once while its size
// and time stay the same, so a large inventory is not read twice.
func (d *Dir) inventoryData() ([]byte, error) {
	info, err := os.Stat(d.Inventory())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, d.ioError(d.Inventory(), "cannot read", err)
	}
	d.cache.mu.Lock()
	defer d.cache.mu.Unlock()
	if d.cache.data != nil && d.cache.size == info.Size() && d.cache.mtime.Equal(info.ModTime()) {
		return d.cache.data, nil
	}
	data, err := os.ReadFile(d.Inventory())
	if err != nil {
		return nil, d.ioError(d.Inventory(), "cannot read", err)
	}
	if len(data) == 0 {
		return nil, &pkix.Error{File: d.Inventory(), Msg: "is empty (truncated?); a truncated inventory must not start afresh",
			Hint: "restore it from git; remove it only if this directory never issued anything"}
	}
	d.cache.data, d.cache.size, d.cache.mtime = data, info.Size(), info.ModTime()
	return data, nil
}

// FindSerial returns the record of a serial (uppercase hex), if any.
func (d *Dir) FindSerial(serial string) (*inventory.Record, error) {
	data, err := d.inventoryData()
	if err != nil || data == nil {
		return nil, err
	}
	rs, err := inventory.FindInventory(d.Inventory(), data, "\n"+serial+"\t", func(r *inventory.Record) bool { return r.Serial == serial })
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// FindName returns the records whose CN or file name is name and that
// keep accepts, each in its latest state.
func (d *Dir) FindName(name string, keep func(*inventory.Record) bool) ([]inventory.Record, error) {
	data, err := d.inventoryData()
	if err != nil || data == nil {
		return nil, err
	}
	return inventory.FindInventory(d.Inventory(), data, "\t"+inventory.EscapeInventoryField(name)+"\t", func(r *inventory.Record) bool {
		return (r.CN == name || r.Name == name) && keep(r)
	})
}

// validByName is, for each of names, its valid records of kind: one pass
// over the inventory for a whole batch (a renewal of 1,000 certificates
// would otherwise read and search it 1,000 times under the lock).
func (d *Dir) validByName(names map[string]bool, kind inventory.Kind) (map[string][]inventory.Record, error) {
	data, err := d.inventoryData()
	if err != nil || data == nil {
		return map[string][]inventory.Record{}, err
	}
	escaped := map[string]bool{}
	for n := range names {
		escaped[inventory.EscapeInventoryField(n)] = true
	}
	var latest []inventory.Record
	at := map[string]int{}
	var perr error
	err = inventory.ScanInventory(d.Inventory(), data, func(l inventory.InventoryLine) {
		if !escaped[string(l.Name)] || string(l.Kind) != string(kind) || perr != nil {
			return
		}
		r, err := l.ParseLine(d.Inventory())
		if err != nil {
			perr = err
			return
		}
		if k, ok := at[r.Serial]; ok {
			latest[k] = r
			return
		}
		at[r.Serial] = len(latest)
		latest = append(latest, r)
	})
	if err == nil {
		err = perr
	}
	if err != nil {
		return nil, err
	}
	out := map[string][]inventory.Record{}
	for _, r := range latest {
		if r.Status == inventory.StatusValid {
			out[r.Name] = append(out[r.Name], r)
		}
	}
	return out, nil
}

// compactAbove: the inventory is rewritten one line per serial once
// changes make up this share of its lines (and there are enough of them
// to matter), so it stays about the size of the fleet.
const (
	compactShare    = 4 // a quarter of the lines
	compactMinLines = 1000
)

// maybeCompact rewrites the inventory one line per serial when appended
// changes have grown it enough. It runs only where the whole inventory is
// parsed anyway (a CRL build), under the lock, as an atomic replace.
func (s *Session) maybeCompact(inv *inventory.Inventory) error {
	extra := inv.Lines - len(inv.Records)
	if extra < compactMinLines || extra*compactShare < inv.Lines {
		return nil
	}
	return s.Compact(inv)
}

// Compact rewrites the inventory with one line per serial.
func (s *Session) Compact(inv *inventory.Inventory) error {
	if _, err := s.inventoryForAppend(); err != nil {
		return err
	}
	_, err := atomicfile.WriteFiles([]atomicfile.File{{Path: s.d.Inventory(), Data: inv.Bytes(), Mode: atomicfile.ModePublic, Kind: "inventory", Replace: true}}, false)
	return err
}
