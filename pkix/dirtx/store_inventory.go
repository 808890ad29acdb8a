package dirtx

import (
	"errors"
	"io/fs"
	"os"

	"github.com/mtlsctl/mtlsctl/pkix"
	"github.com/mtlsctl/mtlsctl/pkix/atomicfile"
	"github.com/mtlsctl/mtlsctl/pkix/inventory"
)

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
		return appendTarget{}, s.d.IOError(path, "cannot read", err)
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
			return appendTarget{}, s.d.IOError(path, "cannot read", err)
		}
		defer f.Close()
		var last [1]byte
		if _, err := f.ReadAt(last[:], t.size-1); err != nil {
			return appendTarget{}, s.d.IOError(path, "cannot read", err)
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

// compactAbove: the inventory is rewritten one line per serial once
// changes make up this share of its lines (and there are enough of them
// to matter), so it stays about the size of the fleet.
const (
	CompactShare    = 4 // a quarter of the lines
	CompactMinLines = 1000
)

// MaybeCompact rewrites the inventory one line per serial when appended
// changes have grown it enough. It runs only where the whole inventory is
// parsed anyway (a CRL build), under the lock, as an atomic replace.
func (s *Session) MaybeCompact(inv *inventory.Inventory) error {
	extra := inv.Lines - len(inv.Records)
	if extra < CompactMinLines || extra*CompactShare < inv.Lines {
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
