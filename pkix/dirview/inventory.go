package dirview

import (
	"errors"
	"io/fs"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

// ReadInventory parses the whole inventory, for commands that need all of
// it (list, check). Operations on one certificate use Find instead.
func (d *View) ReadInventory() (*inventory.Inventory, error) {
	return inventory.ReadInventoryFile(d.Inventory())
}

// InventoryData is the inventory's bytes, or none for a directory
// without one. One operation looks things up in it several times (the
// record, then whether the CRL is behind): it is read once while its size
// and time stay the same, so a large inventory is not read twice.
func (d *View) InventoryData() ([]byte, error) {
	info, err := os.Stat(d.Inventory())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, d.IOError(d.Inventory(), "cannot read", err)
	}
	d.cache.mu.Lock()
	defer d.cache.mu.Unlock()
	if d.cache.data != nil && d.cache.size == info.Size() && d.cache.mtime.Equal(info.ModTime()) {
		return d.cache.data, nil
	}
	data, err := os.ReadFile(d.Inventory())
	if err != nil {
		return nil, d.IOError(d.Inventory(), "cannot read", err)
	}
	if len(data) == 0 {
		return nil, &pkix.Error{File: d.Inventory(), Msg: "is empty (truncated?); a truncated inventory must not start afresh",
			Hint: "restore it from git; remove it only if this directory never issued anything"}
	}
	d.cache.data, d.cache.size, d.cache.mtime = data, info.Size(), info.ModTime()
	return data, nil
}

// FindSerial returns the record of a serial (uppercase hex), if any.
func (d *View) FindSerial(serial string) (*inventory.Record, error) {
	data, err := d.InventoryData()
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
func (d *View) FindName(name string, keep func(*inventory.Record) bool) ([]inventory.Record, error) {
	data, err := d.InventoryData()
	if err != nil || data == nil {
		return nil, err
	}
	return inventory.FindInventory(d.Inventory(), data, "\t"+inventory.EscapeInventoryField(name)+"\t", func(r *inventory.Record) bool {
		return (r.CN == name || r.Name == name) && keep(r)
	})
}

// ValidByName is, for each of names, its valid records of kind: one pass
// over the inventory for a whole batch (a renewal of 1,000 certificates
// would otherwise read and search it 1,000 times under the lock).
func (d *View) ValidByName(names map[string]bool, kind inventory.Kind) (map[string][]inventory.Record, error) {
	data, err := d.InventoryData()
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
